import {
  bytesToVector,
  type Metadata,
  type StorageAdapter,
  type VectorMatch,
  type VectorRecord,
} from '@engram/core'
import { type CollectionRow, collectionTables, REGISTRY } from './collection-tables.js'

/** Ids or labels per `IN (…)` list, well under SQLite's parameter limit. */
export const CHUNK = 500

/** A search result before the record is read: its integer label and score. */
export interface Hit {
  /** The record's label (its row key, and its ANN label). */
  label: number
  /** Higher is better. */
  score: number
}

/** A stored row with its label. */
export type LabelledRow = StoredRow & { label: number }

/** A record row as the collection's vector table stores it. */
export interface StoredRow {
  /** The caller's id. */
  id: string
  /** Little-endian Float32 bytes. */
  vector: Uint8Array
  /** Metadata as JSON text. */
  metadata: string | null
  /** The record's text. */
  text: string | null
}

/** `?, ?, …` for `n` placeholders. */
export function marks(n: number): string {
  return new Array(n).fill('?').join(', ')
}

/** A stored row as the record the contract returns. */
export function toRecord(row: StoredRow): VectorRecord {
  const record: VectorRecord = { id: row.id, vector: bytesToVector(row.vector) }
  if (row.metadata !== null) record.metadata = JSON.parse(row.metadata) as Metadata
  if (row.text !== null) record.text = row.text
  return record
}

/** Reads `columns` of the rows with these labels, in pages of `CHUNK`; missing labels are left out. */
export async function rowsByLabel<T>(
  db: StorageAdapter,
  c: CollectionRow,
  columns: string,
  labels: readonly number[],
): Promise<T[]> {
  const t = collectionTables(c.cid)
  const out: T[] = []
  for (let i = 0; i < labels.length; i += CHUNK) {
    const chunk = labels.slice(i, i + CHUNK)
    out.push(
      ...(await db.all<T>(
        `SELECT ${columns} FROM ${t.vectors} WHERE label IN (${marks(chunk.length)})`,
        chunk,
      )),
    )
  }
  return out
}

/**
 * Turns hits into matches in the hits' order, reading each record once; a record deleted
 * meanwhile is left out. With `check`, the first read also reads the collection's registry row
 * in the same statement, and the answer is `undefined` when its sequence or uid no longer match
 * `c` (a store wrote, dropped or recreated the collection since `c` was read).
 */
export async function toMatches(
  db: StorageAdapter,
  c: CollectionRow,
  hits: readonly Hit[],
  includeVectors: boolean,
  check = false,
): Promise<VectorMatch[] | undefined> {
  const columns = ['label', 'id', 'metadata', 'text', ...(includeVectors ? ['vector'] : [])]
  const labels = hits.map((hit) => hit.label)
  let rows: LabelledRow[]
  if (check) {
    const first = await rowsIfUnchanged(db, c, columns, labels.slice(0, CHUNK))
    if (first === undefined) return undefined
    rows = first
    if (labels.length > CHUNK)
      rows.push(...(await rowsByLabel<LabelledRow>(db, c, columns.join(', '), labels.slice(CHUNK))))
  } else {
    rows = await rowsByLabel<LabelledRow>(db, c, columns.join(', '), labels)
  }
  const byLabel = new Map(rows.map((row) => [row.label, row]))
  return hits.flatMap((hit) => {
    const row = byLabel.get(hit.label)
    return row ? [toMatch(row, hit.score, includeVectors)] : []
  })
}

/**
 * Up to `CHUNK` rows by label, read with the registry row in one statement; `undefined` if that
 * row changed or is gone. The registry row comes last, once (its `seq` and `uid` in the `label`
 * and `id` columns, told apart by `registry`), which costs less than joining it to every row.
 */
async function rowsIfUnchanged(
  db: StorageAdapter,
  c: CollectionRow,
  columns: readonly string[],
  labels: readonly number[],
): Promise<LabelledRow[] | undefined> {
  const t = collectionTables(c.cid)
  // `columns` starts with label and id, which carry the registry row's seq and uid; the rest are NULL.
  const blanks = columns
    .slice(2)
    .map(() => ', NULL')
    .join('')
  const rows = await db.all<LabelledRow & { registry: number }>(
    `SELECT 0 AS registry, ${columns.join(', ')} FROM ${t.vectors} WHERE label IN (${marks(labels.length)})
      UNION ALL SELECT 1, seq, uid${blanks} FROM ${REGISTRY} WHERE cid = ?`,
    [...labels, c.cid],
  )
  // SQLite returns a UNION ALL's parts in order. Were the registry row ever not last, the query
  // would only run again on a freshly read row, never answer from a stale one.
  const registry = rows.pop()
  // The floor may have risen (a checkpoint pruned tombstones): catch-ups check it themselves.
  if (registry === undefined || registry.registry !== 1 || registry.label !== c.seq || registry.id !== c.uid)
    return undefined
  return rows
}

function toMatch(row: StoredRow, score: number, includeVectors: boolean): VectorMatch {
  const match: VectorMatch = { id: row.id, score }
  if (row.metadata !== null) match.metadata = JSON.parse(row.metadata) as Metadata
  if (row.text !== null) match.text = row.text
  if (includeVectors) match.vector = bytesToVector(row.vector)
  return match
}
