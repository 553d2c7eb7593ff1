import type { ReadmeSnippet } from './readme-snippets.js'
import { snippetLabel } from './readme-snippets.js'
import { type CommandResult, failureExcerpt } from './run-command.js'
import { STILL_RUNNING_EXIT } from './snippet-harness.js'

/** Why a snippet's run failed, for the test's message; `undefined` when it ran cleanly. */
export function runFailure(result: CommandResult): string | undefined {
  if (result.timedOut) return `did not finish within ${result.ms} ms:\n${failureExcerpt(result)}`
  if (result.code === STILL_RUNNING_EXIT) return result.stderr.trim().split('\n').pop() ?? ''
  if (result.code !== 0) return `exited with ${result.code}:\n${failureExcerpt(result)}`
  return undefined
}

/**
 * What the check holds against a snippet, from how it compiled and ran (`failures`) and what is
 * wrong with its install line and check comment (`problems`). A block marked expected-to-fail
 * must fail, and is reported once it no longer does, so the fix that closes its gap also
 * removes the mark; its own failures are not held against it.
 */
export function snippetVerdict(
  snippet: Pick<ReadmeSnippet, 'readme' | 'index' | 'line' | 'mode' | 'reason'>,
  failures: readonly string[],
  problems: readonly string[],
): string[] {
  if (snippet.mode !== 'expected-to-fail') return [...problems, ...failures]
  if (failures.length > 0) return [...problems]
  return [
    ...problems,
    `${snippetLabel(snippet)} is marked expected-to-fail (${snippet.reason}), but now compiles and runs: remove its <!-- check: expected-to-fail --> comment`,
  ]
}

/** The test's name for a snippet: what it must do, and why a block is only compiled. */
export function snippetTitle(
  snippet: Pick<ReadmeSnippet, 'readme' | 'index' | 'line' | 'mode' | 'reason'>,
): string {
  const label = snippetLabel(snippet)
  if (snippet.mode === 'compile-only') return `${label} compiles (not run: ${snippet.reason})`
  if (snippet.mode === 'expected-to-fail') return `${label} still fails as expected (${snippet.reason})`
  return `${label} compiles and runs`
}
