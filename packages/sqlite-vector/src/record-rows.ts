import {
  bytesToVector,
  type Metadata,
  type StorageAdapter,
  type VectorMatch,
  type VectorRecord,
} from '@engram/core'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import type { RecordCache, RecordFields } from './record-cache.js'

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
 * Turns hits into matches in the hits' order, reading each record once (through `records`, which
 * keeps them, unless vectors are asked for); a record deleted meanwhile is left out.
 */
export async function toMatches(
  db: StorageAdapter,
  c: CollectionRow,
  hits: readonly Hit[],
  includeVectors: boolean,
  records?: RecordCache,
): Promise<VectorMatch[]> {
  const labels = hits.map((hit) => hit.label)
  let byLabel: Map<number, RecordFields & { vector?: Uint8Array }>
  if (records !== undefined && !includeVectors) {
    byLabel = await records.fields(c, labels)
  } else {
    const columns = `label, id, metadata, text${includeVectors ? ', vector' : ''}`
    const rows = await rowsByLabel<LabelledRow>(db, c, columns, labels)
    byLabel = new Map(rows.map((row) => [row.label, row]))
  }
  const matches: VectorMatch[] = []
  for (const hit of hits) {
    const row = byLabel.get(hit.label)
    if (row !== undefined) matches.push(toMatch(row, hit.score, includeVectors))
  }
  return matches
}

function toMatch(
  row: RecordFields & { vector?: Uint8Array },
  score: number,
  includeVectors: boolean,
): VectorMatch {
  const match: VectorMatch = { id: row.id, score }
  if (row.metadata !== null) match.metadata = JSON.parse(row.metadata) as Metadata
  if (row.text !== null) match.text = row.text
  if (includeVectors) match.vector = bytesToVector(row.vector as Uint8Array)
  return match
}
