import type { Schemas } from '@qdrant/js-client-rest'

const WORD = /[\p{L}\p{N}]+/gu

/** The words of a text as every engram store reads them: lowercase runs of Unicode letters and digits. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? []
}

/**
 * The sparse-vector dimension of a word: the 32-bit FNV-1a hash of its UTF-8 bytes, an
 * unsigned integer as Qdrant's sparse indices are. Two different words share a dimension only
 * by a hash collision (about one pair in a vocabulary of 90,000 words).
 */
export function termIndex(term: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(term, 'utf8')) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/**
 * The sparse vector of a text. For a record (`'document'`) each word's value is its count in the
 * text; for a query each distinct word counts once, so Qdrant's `modifier: idf` makes the score
 * the sum, over the query's words, of IDF × term frequency. Indices are sorted and unique.
 *
 * @example
 * textToSparseVector('the cat and the hat', 'document') // five words, "the" with value 2
 */
export function textToSparseVector(text: string, role: 'document' | 'query'): Schemas['SparseVector'] {
  const counts = new Map<number, number>()
  for (const word of tokenize(text)) {
    const index = termIndex(word)
    counts.set(index, role === 'query' ? 1 : (counts.get(index) ?? 0) + 1)
  }
  const indices = [...counts.keys()].sort((a, b) => a - b)
  return { indices, values: indices.map((index) => counts.get(index) as number) }
}
