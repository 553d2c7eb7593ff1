import { join } from 'node:path'
import { type CommandResult, runCommand } from './run-command.js'

/** One compiler diagnostic. */
export interface Diagnostic {
  /** The file, relative to the app (`snippets/root-1.ts`, `node_modules/@engram/core/dist/index.d.ts`). */
  readonly file: string
  /** 1-based line in that file. */
  readonly line: number
  /** 1-based column. */
  readonly column: number
  /** `TS2345: Argument of type …`, with any continuation lines. */
  readonly text: string
}

/** The fresh app's compiler run. */
export interface TypecheckResult {
  /** Every diagnostic, in the compiler's order. */
  readonly diagnostics: readonly Diagnostic[]
  /** The compiler's exit code and output. */
  readonly result: CommandResult
}

const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\): (?:error|warning) (TS\d+: .*)$/

/**
 * Compiles one of the fresh app's projects with the app's own TypeScript (which emits JavaScript
 * even when there are errors, unless the project says `noEmit`).
 */
export async function typecheckApp(
  dir: string,
  env: NodeJS.ProcessEnv,
  project = 'tsconfig.json',
): Promise<TypecheckResult> {
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc')
  const result = await runCommand(process.execPath, [tsc, '-p', project, '--pretty', 'false'], {
    cwd: dir,
    env,
    timeoutMs: 300_000,
  })
  return { diagnostics: parseDiagnostics(result.stdout), result }
}

/** Reads `tsc --pretty false` output; continuation lines stay with their diagnostic. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: { file: string; line: number; column: number; text: string }[] = []
  for (const line of output.split(/\r?\n/)) {
    const match = DIAGNOSTIC.exec(line)
    const last = diagnostics[diagnostics.length - 1]
    if (match) {
      diagnostics.push({
        file: match[1] ?? '',
        line: Number(match[2]),
        column: Number(match[3]),
        text: match[4] ?? '',
      })
    } else if (line.trim() !== '' && last) {
      last.text += `\n  ${line.trim()}`
    }
  }
  return diagnostics
}
