import { compareCodePoints, type Metadata, type Row, type VectorMatch, type VectorRecord } from '@engram/core'
import { UntypedBinary } from './pg-type-parsers.js'

/** pgvector's text form, `[x,y,…]`; a float32 printed as a double parses back to the same float32. */
export function vectorLiteral(vector: Float32Array): string {
  let out = '['
  for (let i = 0; i < vector.length; i++) out += (i === 0 ? '' : ',') + vector[i]
  return `${out}]`
}

/**
 * A query vector in pgvector's binary form (int16 dimension, int16 zero, then each number as a
 * big-endian float4), for the server to read without parsing text. The same float32 values as
 * `vectorLiteral`, at a fraction of the cost on both sides: printing and parsing 1,536 numbers as
 * text took about 0.6 ms of a 1.4 ms HNSW query (docs/postgres.md).
 */
export function vectorParam(vector: Float32Array): UntypedBinary {
  const out = new UntypedBinary(4 + 4 * vector.length)
  const view = new DataView(out.buffer)
  view.setInt16(0, vector.length)
  for (let i = 0; i < vector.length; i++) view.setFloat32(4 + 4 * i, vector[i] as number)
  return out
}

/** Reads pgvector's text form back into a vector. */
export function parseVector(text: string): Float32Array {
  const parts = text.slice(1, -1).split(',')
  const out = new Float32Array(parts.length)
  for (let i = 0; i < parts.length; i++) out[i] = Number(parts[i])
  return out
}

/** A stored row (`id, embedding, metadata, text`) as a record; NULL metadata and text are left out. */
export function toRecord(row: Row): VectorRecord {
  const record: VectorRecord = { id: row.id as string, vector: parseVector(row.embedding as string) }
  if (row.metadata !== null && row.metadata !== undefined) record.metadata = row.metadata as Metadata
  if (row.text !== null && row.text !== undefined) record.text = row.text as string
  return record
}

/** A search row (`id, score, metadata, text` and, when asked for, `embedding`) as a match. */
export function toMatch(row: Row): VectorMatch {
  const match: VectorMatch = { id: row.id as string, score: Number(row.score) }
  if (row.metadata !== null && row.metadata !== undefined) match.metadata = row.metadata as Metadata
  if (row.text !== null && row.text !== undefined) match.text = row.text as string
  if (row.embedding !== undefined) match.vector = parseVector(row.embedding as string)
  return match
}

/** Best score first; equal scores by id in code point order, the order `COLLATE "C"` gives UTF-8 text. */
export function byScoreThenId(a: VectorMatch, b: VectorMatch): number {
  return b.score - a.score || compareCodePoints(a.id, b.id)
}
