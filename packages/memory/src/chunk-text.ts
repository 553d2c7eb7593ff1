import { StorageError } from '@engram/core'

/** Options for `chunkText`. */
export interface ChunkOptions {
  /** Largest chunk, in characters. Default is `1000`. */
  chunkSize?: number
  /** Characters shared by neighbouring chunks, so a sentence cut at a border is still found. Default is `200`. */
  overlap?: number
}

/** One piece of a document, with where it starts and ends in the original text. */
export interface TextChunk {
  /** The chunk's text. */
  text: string
  /** Position in the sequence of chunks, from 0. */
  index: number
  /** Offset of the first character in the document. */
  start: number
  /** Offset just past the last character. */
  end: number
}

/**
 * Splits text into overlapping chunks of at most `chunkSize` characters, preferring to cut at
 * a paragraph break, then a sentence end, then a space, so chunks rarely split a word.
 */
export function chunkText(text: string, options: ChunkOptions = {}): TextChunk[] {
  const chunkSize = options.chunkSize ?? 1000
  const overlap = options.overlap ?? 200
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new StorageError('INVALID_ARGUMENT', `chunkSize must be a positive integer, got ${chunkSize}`)
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= chunkSize) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `overlap must be an integer from 0 to chunkSize - 1, got ${overlap}`,
    )
  }
  const chunks: TextChunk[] = []
  let start = skipSpace(text, 0)
  while (start < text.length) {
    let end = Math.min(start + chunkSize, text.length)
    if (end < text.length) end = breakPoint(text, start, end)
    // A cut between the two halves of a surrogate pair would leave each chunk with a lone half.
    if (splitsPair(text, end)) end = end - 1 > start ? end - 1 : end + 1
    const piece = text.slice(start, end).trim()
    if (piece) chunks.push({ text: piece, index: chunks.length, start, end })
    if (end >= text.length) break
    // Step back by the overlap (always moving forward), then on to the next word start inside it.
    const back = Math.max(end - overlap, start + 1)
    let next = back
    while (next < end && !/\s/.test(text[next - 1] as string)) next++
    start = skipSpace(text, next < end ? next : back)
    if (splitsPair(text, start)) start++
  }
  return chunks
}

/** The best place to end a chunk in (start, end]: a paragraph, a sentence, a space, or `end` itself. */
function breakPoint(text: string, start: number, end: number): number {
  const window = text.slice(start, end)
  const floor = Math.floor(window.length / 2) // never cut a chunk to less than half its size
  for (const pattern of [/\n\s*\n/g, /[.!?](\s)/g, /\s/g]) {
    let best = -1
    for (const match of window.matchAll(pattern)) {
      const cut = match.index + match[0].length
      if (cut > floor) best = cut
    }
    if (best > 0) return start + best
  }
  return end
}

/** Whether cutting `text` at `index` separates a high surrogate from the low surrogate after it. */
function splitsPair(text: string, index: number): boolean {
  if (index <= 0 || index >= text.length) return false
  const before = text.charCodeAt(index - 1)
  const after = text.charCodeAt(index)
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff
}

function skipSpace(text: string, from: number): number {
  let i = from
  while (i < text.length && /\s/.test(text[i] as string)) i++
  return i
}
