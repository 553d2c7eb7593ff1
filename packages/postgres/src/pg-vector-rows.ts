import { compareCodePoints, type Metadata, type Row, type VectorMatch, type VectorRecord } from '@engram/core'
import { UntypedBinary } from './pg-type-parsers.js'

/**
 * A query vector in pgvector's binary form (int16 dimension, int16 zero, then each number as a
 * big-endian float4), for the server to read without parsing text: the same float32 values as the
 * text form `[x,y,…]`, at a fraction of the cost on both sides (printing and parsing 1,536 numbers
 * as text took about 0.6 ms of a 1.4 ms HNSW query, docs/postgres.md).
 */
export function vectorParam(vector: Float32Array): UntypedBinary {
  const out = new UntypedBinary(4 + 4 * vector.length)
  const view = new DataView(out.buffer)
  view.setInt16(0, vector.length)
  for (let i = 0; i < vector.length; i++) view.setFloat32(4 + 4 * i, vector[i] as number)
  return out
}

/** `real`'s type OID, which a binary array names for its elements. */
const FLOAT4_OID = 700

/**
 * A batch of vectors, one after another, as one binary `real[]` (a one-dimensional array of
 * `vectors.length × dimension` big-endian float4s), from which each row's vector is a slice cast
 * to `vector`: the batch reaches the server without printing or parsing a number.
 */
export function vectorArrayParam(vectors: readonly Float32Array[], dimension: number): UntypedBinary {
  const count = vectors.length * dimension
  const out = new UntypedBinary(20 + 8 * count)
  const view = new DataView(out.buffer)
  // Header: one dimension, no NULLs, float4 elements, `count` of them from index 1.
  view.setInt32(0, 1)
  view.setInt32(4, 0)
  view.setInt32(8, FLOAT4_OID)
  view.setInt32(12, count)
  view.setInt32(16, 1)
  let at = 20
  for (const vector of vectors) {
    for (let i = 0; i < dimension; i++) {
      view.setInt32(at, 4)
      view.setFloat32(at + 4, vector[i] as number)
      at += 8
    }
  }
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
