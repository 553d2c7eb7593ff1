/** How the install check treats a README block, from the `<!-- check: … -->` comment right before it. */
export type CheckMode = 'run' | 'compile-only' | 'expected-to-fail'

/** A `<!-- check: <mode> (<reason>) -->` comment placed right before a fenced block. */
export interface CheckMarker {
  /** `compile-only`: type-checked, not run. `expected-to-fail`: must fail until the gap in the reason is fixed. */
  readonly mode: Exclude<CheckMode, 'run'>
  /** Why, in the README's words; the check prints it. */
  readonly reason: string
}

/** One fenced code block of a Markdown file. */
export interface MarkdownBlock {
  /** The info string's first word, lower-cased (`ts`, `sh`, …); `''` when there is none. */
  readonly lang: string
  /** The block's text, without the fences. */
  readonly code: string
  /** The 1-based line of the opening fence. */
  readonly line: number
  /** The check comment right before the block (only blank lines between), if any. */
  readonly marker?: CheckMarker
  /** A check comment right before the block that could not be read, with what is wrong with it. */
  readonly badMarker?: string
}

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)/
const MARKER = /^<!--\s*check:\s*(.*?)\s*-->$/
const MARKER_BODY = /^(compile-only|expected-to-fail)\s*\((.+)\)$/

/** Reads every fenced code block of a Markdown text, with the check comment that precedes it. */
export function markdownBlocks(markdown: string): MarkdownBlock[] {
  const lines = markdown.split(/\r?\n/)
  const blocks: MarkdownBlock[] = []
  let pending: { marker?: CheckMarker; badMarker?: string } | undefined
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? ''
    const trimmed = text.trim()
    const comment = MARKER.exec(trimmed)
    if (comment) {
      pending = readMarker(comment[1] ?? '')
      continue
    }
    const open = FENCE.exec(text)
    if (!open) {
      if (trimmed !== '') pending = undefined
      continue
    }
    const fence = open[2] ?? '```'
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const candidate = (lines[j] ?? '').trim()
      if (candidate.startsWith(fence) && candidate.slice(fence.length).trim() === '') break
      body.push(stripIndent(lines[j] ?? '', open[1]?.length ?? 0))
    }
    blocks.push({ lang: (open[3] ?? '').toLowerCase(), code: body.join('\n'), line: i + 1, ...pending })
    pending = undefined
    i = j
  }
  return blocks
}

function readMarker(body: string): { marker?: CheckMarker; badMarker?: string } {
  const parsed = MARKER_BODY.exec(body)
  const reason = parsed?.[2]?.trim()
  if (!parsed || !reason) {
    return {
      badMarker: `"<!-- check: ${body} -->" is not "<!-- check: compile-only (reason) -->" or "<!-- check: expected-to-fail (reason) -->"`,
    }
  }
  return { marker: { mode: parsed[1] as CheckMarker['mode'], reason } }
}

/** A fence indented by n spaces has its content's first n spaces removed (CommonMark). */
function stripIndent(line: string, indent: number): string {
  let cut = 0
  while (cut < indent && line[cut] === ' ') cut++
  return line.slice(cut)
}
