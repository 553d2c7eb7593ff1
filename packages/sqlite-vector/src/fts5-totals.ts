import type { StorageAdapter } from '@engram/core'

/** FTS5's own counts for one table: what `bm25()` reads for its IDF and average length. */
export interface Fts5Totals {
  /** Rows in the FTS table. */
  rows: number
  /** Tokens in all of them (one column). */
  tokens: number
}

/**
 * FTS5's row count and token total for `table`, from the averages record it keeps in its
 * `_data` table (row 1: the row count, then each column's token total, as SQLite varints).
 * `undefined` when the record is missing or not in that shape, so callers fall back to ranking.
 */
export async function fts5Totals(db: StorageAdapter, table: string): Promise<Fts5Totals | undefined> {
  const row = await db.get<{ block: Uint8Array | null }>(`SELECT block FROM ${table}_data WHERE id = 1`)
  const block = row?.block
  if (!(block instanceof Uint8Array)) return undefined
  const rows = readVarint(block, 0)
  const tokens = rows === undefined ? undefined : readVarint(block, rows.next)
  // One text column: exactly two varints, nothing after them.
  if (rows === undefined || tokens === undefined || tokens.next !== block.length) return undefined
  return { rows: rows.value, tokens: tokens.value }
}

/** The IDF FTS5's `bm25()` gives a term found in `hits` of `rows` rows (1e-6 where it would not be positive). */
export function bm25Idf(rows: number, hits: number): number {
  const idf = Math.log((rows - hits + 0.5) / (hits + 0.5))
  return idf > 0 ? idf : 1e-6
}

/** FTS5's `bm25()` constants: term-frequency saturation and length normalisation. */
const K1 = 1.2
const B = 0.75

/**
 * One word's contribution to a record's `bm25()` score (one column of weight 1): `idf` from
 * `bm25Idf`, the word `frequency` times in a record of `length` tokens, against the average
 * length. The same arithmetic in the same order as FTS5's, so it agrees with `-bm25()` of a
 * one-word query to the last bit or two.
 */
export function bm25Contribution(
  idf: number,
  frequency: number,
  length: number,
  averageLength: number,
): number {
  return idf * ((frequency * (K1 + 1.0)) / (frequency + K1 * (1 - B + (B * length) / averageLength)))
}

/** A SQLite varint (big-endian groups of 7 bits, a ninth byte of 8) at `at`, or `undefined` past the end. */
function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0
  for (let i = 0; i < 9; i++) {
    const byte = bytes[at + i]
    if (byte === undefined) return undefined
    if (i === 8) return { value: value * 256 + byte, next: at + 9 }
    value = value * 128 + (byte & 0x7f)
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 }
  }
  return undefined
}
