import { type InstallSpec, installedPackages } from './install-line.js'
import { type CheckMode, markdownBlocks } from './markdown-blocks.js'
import { importedPackages } from './module-specifiers.js'

const TYPESCRIPT = new Set(['ts', 'typescript', 'mts'])
const SHELL = new Set(['sh', 'bash', 'shell', 'console', 'zsh'])

/** A TypeScript code block of a README, as the install check compiles and runs it. */
export interface ReadmeSnippet {
  /** The README's path, relative to the repository root (`packages/core/README.md`). */
  readonly readme: string
  /** The block's number among the README's TypeScript blocks, from 1. */
  readonly index: number
  /** The 1-based line of the block's opening fence. */
  readonly line: number
  /** The block's code. */
  readonly code: string
  /** `run` unless a check comment says otherwise. */
  readonly mode: CheckMode
  /** The check comment's reason, for `compile-only` and `expected-to-fail`. */
  readonly reason?: string
  /** The packages the nearest shell block above installs; `undefined` when there is none. */
  readonly installs?: readonly InstallSpec[]
  /** The line of that shell block's fence. */
  readonly installLine?: number
  /** The packages the block imports. */
  readonly imports: readonly string[]
  /** A check comment before the block that could not be read. */
  readonly badMarker?: string
}

/**
 * The TypeScript blocks of a README. Each one's install line is the nearest shell block above
 * it that installs packages by name, as long as no other TypeScript block lies between them.
 */
export function readmeSnippets(readme: string, markdown: string): ReadmeSnippet[] {
  const snippets: ReadmeSnippet[] = []
  let install: { specs: InstallSpec[]; line: number } | undefined
  for (const block of markdownBlocks(markdown)) {
    if (SHELL.has(block.lang)) {
      const specs = installedPackages(block.code)
      if (specs.length > 0) install = { specs, line: block.line }
      continue
    }
    if (!TYPESCRIPT.has(block.lang)) continue
    snippets.push({
      readme,
      index: snippets.length + 1,
      line: block.line,
      code: block.code,
      mode: block.marker?.mode ?? 'run',
      ...(block.marker ? { reason: block.marker.reason } : {}),
      ...(install ? { installs: install.specs, installLine: install.line } : {}),
      imports: importedPackages(block.code),
      ...(block.badMarker ? { badMarker: block.badMarker } : {}),
    })
    install = undefined
  }
  return snippets
}

/** How a failure names a block: `packages/core/README.md block 2 (line 31)`. */
export function snippetLabel(snippet: Pick<ReadmeSnippet, 'readme' | 'index' | 'line'>): string {
  return `${snippet.readme} block ${snippet.index} (line ${snippet.line})`
}

/** A file name for the block inside the fresh app: `packages-core-2`, `root-1`. */
export function snippetFileStem(snippet: Pick<ReadmeSnippet, 'readme' | 'index'>): string {
  const folder = snippet.readme.replace(/\/?README\.md$/i, '')
  const slug = folder === '' ? 'root' : folder.replace(/[^a-zA-Z0-9]+/g, '-')
  return `${slug}-${snippet.index}`
}
