import type { Metadata, ValidRecord, VectorMatch, VectorMetric, VectorRecord } from '@engram/core'
import type { Schemas } from '@qdrant/js-client-rest'
import { qdrantPointId } from './point-id.js'
import { textToSparseVector } from './sparse-text.js'

/** The name of the dense vector in every engram collection. */
export const DENSE_VECTOR = 'dense'
/** The name of the sparse (text) vector in collections with text search. */
export const TEXT_VECTOR = 'text'

/**
 * Payload keys of an engram point. The caller's metadata sits under its own key, so no
 * metadata field can collide with engram's.
 */
export const PAYLOAD_KEYS = Object.freeze({
  /** The caller's record id, returned unchanged. */
  id: 'id',
  /** The tenant ('' for none), indexed as Qdrant's tenant field. */
  tenant: 'tenant',
  /** The record's metadata object. */
  metadata: 'metadata',
  /** The record's text. */
  text: 'text',
  /** Cosine collections: the vector's length, because Qdrant stores Cosine vectors normalised. */
  norm: 'norm',
  /** Metadata fields holding an empty list, which Qdrant's `is_empty` cannot tell from missing ones. */
  emptyFields: 'empty_fields',
})

/** What the conversions need to know about a collection. */
export interface PointShape {
  /** The collection's metric. */
  readonly metric: VectorMetric
  /** Whether the collection has the sparse text vector. */
  readonly hybrid: boolean
}

type Payload = Record<string, unknown>

/** A checked record as a Qdrant point: deterministic UUID, named vectors, and the payload engram reads back. */
export function toPoint(record: ValidRecord, tenant: string, shape: PointShape): Schemas['PointStruct'] {
  const payload: Payload = { [PAYLOAD_KEYS.id]: record.id, [PAYLOAD_KEYS.tenant]: tenant }
  const vector: Record<string, number[] | Schemas['SparseVector']> = {
    [DENSE_VECTOR]: Array.from(record.vector),
  }
  if (record.metadata !== undefined) {
    payload[PAYLOAD_KEYS.metadata] = record.metadata
    const empty = Object.entries(record.metadata)
      .filter(([, value]) => Array.isArray(value) && value.length === 0)
      .map(([field]) => field)
    if (empty.length > 0) payload[PAYLOAD_KEYS.emptyFields] = empty
  }
  if (record.text !== undefined) {
    payload[PAYLOAD_KEYS.text] = record.text
    if (shape.hybrid) {
      const sparse = textToSparseVector(record.text, 'document')
      if (sparse.indices.length > 0) vector[TEXT_VECTOR] = sparse
    }
  }
  if (shape.metric === 'cosine') {
    let sum = 0
    for (const x of record.vector) sum += x * x
    payload[PAYLOAD_KEYS.norm] = Math.sqrt(sum)
  }
  return { id: qdrantPointId(record.id, tenant), vector, payload }
}

/** A point Qdrant returned (from retrieve, scroll or a query) as an engram record. */
export function toRecord(point: Schemas['Record'] | Schemas['ScoredPoint'], shape: PointShape): VectorRecord {
  const payload = (point.payload ?? {}) as Payload
  const record: VectorRecord = {
    id: String(payload[PAYLOAD_KEYS.id]),
    vector: denseVector(point, payload, shape),
  }
  const metadata = payload[PAYLOAD_KEYS.metadata]
  if (metadata !== undefined && metadata !== null) record.metadata = metadata as Metadata
  const text = payload[PAYLOAD_KEYS.text]
  if (typeof text === 'string') record.text = text
  return record
}

/** A scored point as an engram match; `score` is already on engram's scale. */
export function toMatch(
  point: Schemas['ScoredPoint'] | Schemas['Record'],
  score: number,
  shape: PointShape,
  withVector: boolean,
): VectorMatch {
  const payload = (point.payload ?? {}) as Payload
  const match: VectorMatch = { id: String(payload[PAYLOAD_KEYS.id]), score }
  const metadata = payload[PAYLOAD_KEYS.metadata]
  if (metadata !== undefined && metadata !== null) match.metadata = metadata as Metadata
  const text = payload[PAYLOAD_KEYS.text]
  if (typeof text === 'string') match.text = text
  if (withVector) match.vector = denseVector(point, payload, shape)
  return match
}

/** The engram id a returned point carries. */
export function engramId(point: { payload?: unknown }): string {
  return String(((point.payload ?? {}) as Payload)[PAYLOAD_KEYS.id])
}

/** The dense vector as stored by the caller: a Cosine vector comes back normalised, so its length is restored. */
function denseVector(point: { vector?: unknown }, payload: Payload, shape: PointShape): Float32Array {
  const vectors = point.vector as Record<string, unknown> | number[] | null | undefined
  const dense = Array.isArray(vectors) ? vectors : (vectors?.[DENSE_VECTOR] as number[] | undefined)
  const out = Float32Array.from(dense ?? [])
  const norm = payload[PAYLOAD_KEYS.norm]
  if (shape.metric === 'cosine' && typeof norm === 'number' && out.length > 0) {
    let sum = 0
    for (const x of out) sum += x * x
    const length = Math.sqrt(sum)
    if (length > 0) for (let i = 0; i < out.length; i++) out[i] = ((out[i] as number) / length) * norm
  }
  return out
}
