import { bm25Idf } from './fts5-totals.js'

const K1 = 1.2
const B = 0.75

/**
 * Scores one FTS4 row with Okapi BM25 (the formula and constants of FTS5's `bm25()`, sign
 * flipped so higher is better) from `matchinfo(table, 'pcnalx')`, which FTS4 returns as
 * native-endian 32-bit unsigned integers.
 */
export function fts4Rank(matchinfo: Uint8Array): number {
  const ints = new Uint32Array(
    matchinfo.buffer.slice(matchinfo.byteOffset, matchinfo.byteOffset + matchinfo.byteLength),
  )
  const phrases = ints[0] as number
  const columns = ints[1] as number
  const rows = ints[2] as number
  const averages = 3
  const lengths = averages + columns
  const hits = lengths + columns
  let score = 0
  for (let p = 0; p < phrases; p++) {
    for (let c = 0; c < columns; c++) {
      const base = hits + 3 * (p * columns + c)
      const inRow = ints[base] as number
      if (inRow === 0) continue
      const withHits = ints[base + 2] as number
      const idf = bm25Idf(rows, withHits)
      const length = ints[lengths + c] as number
      const average = Math.max(1, ints[averages + c] as number)
      score += (idf * (inRow * (K1 + 1))) / (inRow + K1 * (1 - B + (B * length) / average))
    }
  }
  return score
}
