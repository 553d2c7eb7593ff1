import type { Filter } from './filter.js'
import { StorageError } from './storage-error.js'
import type { CollectionSpec, Metadata, VectorMetric, VectorQuery, VectorRecord } from './vector-store.js'

const COLLECTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/
const METRICS: readonly VectorMetric[] = ['cosine', 'dot', 'euclidean']
/** The longest record id accepted, in characters. */
export const MAX_ID_LENGTH = 512

/** Checks a collection name: a letter, then letters, digits, `_` or `-`, at most 63 characters. */
export function validateCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Invalid collection name ${JSON.stringify(name)}: start with a letter, then use letters, digits, _ or - (at most 63)`,
    )
  }
  return name
}

/** Checks a collection spec and fills in the default metric. */
export function validateCollectionSpec(spec: CollectionSpec, maxDimension = 65_535): Required<CollectionSpec> {
  const dimension = spec?.dimension
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > maxDimension) {
    throw new StorageError('INVALID_ARGUMENT', `dimension must be an integer from 1 to ${maxDimension}, got ${dimension}`)
  }
  const metric = spec.metric ?? 'cosine'
  if (!METRICS.includes(metric)) {
    throw new StorageError('INVALID_ARGUMENT', `metric must be one of ${METRICS.join(', ')}, got ${JSON.stringify(metric)}`)
  }
  return { dimension, metric }
}

/** The error for a collection spec that conflicts with the existing one. */
export function specMismatch(name: string, existing: Required<CollectionSpec>, wanted: Required<CollectionSpec>): StorageError {
  return new StorageError(
    'DIMENSION_MISMATCH',
    `Collection "${name}" exists with dimension ${existing.dimension} (${existing.metric}); cannot recreate it with dimension ${wanted.dimension} (${wanted.metric})`,
  )
}

/** The error for an operation on a collection that does not exist. */
export function collectionNotFound(name: string): StorageError {
  return new StorageError('NOT_FOUND', `Collection "${name}" does not exist; create it with createCollection()`)
}

/**
 * Checks a vector's length and values and returns it as a `Float32Array` (a copy, so later
 * changes by the caller cannot reach the store). `what` names it in errors.
 */
export function toVector(vector: unknown, dimension: number, what = 'vector'): Float32Array {
  if (!(vector instanceof Float32Array) && !Array.isArray(vector) && !ArrayBuffer.isView(vector)) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a Float32Array or an array of numbers`)
  }
  const source = vector as ArrayLike<number>
  if (source.length !== dimension) {
    throw new StorageError('DIMENSION_MISMATCH', `${what} has ${source.length} dimensions; the collection has ${dimension}`)
  }
  const out = new Float32Array(dimension)
  for (let i = 0; i < dimension; i++) {
    const x = source[i]
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new StorageError('INVALID_ARGUMENT', `${what} has a non-finite value (${x}) at index ${i}`)
    }
    out[i] = x
    if (!Number.isFinite(out[i])) {
      throw new StorageError('INVALID_ARGUMENT', `${what} value ${x} at index ${i} does not fit in a 32-bit float`)
    }
  }
  return out
}

/** Checks metadata: a plain object of strings, finite numbers, booleans and string lists, with safe keys. */
export function validateMetadata(metadata: unknown, what = 'metadata'): Metadata | undefined {
  if (metadata === undefined) return undefined
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a plain object`)
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key)) {
      throw new StorageError('INVALID_ARGUMENT', `${what} key ${JSON.stringify(key)} must be a plain identifier (letters, digits, _)`)
    }
    const ok =
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (Array.isArray(value) && value.every((item) => typeof item === 'string'))
    if (!ok) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what}.${key} must be a string, finite number, boolean or array of strings`,
      )
    }
  }
  return metadata as Metadata
}

/** Checks a record id: a non-empty string of at most 512 characters. */
export function validateId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new StorageError('INVALID_ARGUMENT', `Record ids must be non-empty strings of at most ${MAX_ID_LENGTH} characters, got ${JSON.stringify(id)}`)
  }
  return id
}

/** A record after validation: vector as `Float32Array`, metadata checked. */
export interface ValidRecord {
  /** The id. */
  id: string
  /** The vector. */
  vector: Float32Array
  /** The metadata, if any. */
  metadata?: Metadata
  /** The text, if any. */
  text?: string
}

/**
 * Validates a whole upsert batch before anything is written, so a bad record rejects the
 * batch and loses nothing. A repeated id keeps its last record.
 */
export function validateRecords(records: readonly VectorRecord[], dimension: number): ValidRecord[] {
  if (!Array.isArray(records)) throw new StorageError('INVALID_ARGUMENT', 'upsert() takes an array of records')
  const byId = new Map<string, ValidRecord>()
  records.forEach((record, i) => {
    if (typeof record !== 'object' || record === null) {
      throw new StorageError('INVALID_ARGUMENT', `records[${i}] must be an object`)
    }
    const id = validateId(record.id)
    const valid: ValidRecord = { id, vector: toVector(record.vector, dimension, `records[${i}].vector`) }
    const metadata = validateMetadata(record.metadata, `records[${i}].metadata`)
    if (metadata !== undefined) valid.metadata = metadata
    if (record.text !== undefined && record.text !== null) {
      if (typeof record.text !== 'string') throw new StorageError('INVALID_ARGUMENT', `records[${i}].text must be a string`)
      valid.text = record.text
    }
    byId.delete(id)
    byId.set(id, valid)
  })
  return [...byId.values()]
}

/** A query after validation, with defaults filled in. */
export interface ValidQuery {
  /** The query vector, if any. */
  vector?: Float32Array
  /** The query text, if any (non-empty). */
  text?: string
  /** Matches to return. */
  topK: number
  /** The search mode actually used. */
  mode: 'vector' | 'text' | 'hybrid'
  /** The filter, if any. */
  filter?: Filter
  /** RRF constant. */
  rrfK: number
  /** Whether to return vectors. */
  includeVectors: boolean
}

/** Checks a query against the collection's dimension and picks the mode from what is given. */
export function validateQuery(query: VectorQuery, dimension: number, maxTopK = 10_000): ValidQuery {
  if (typeof query !== 'object' || query === null) throw new StorageError('INVALID_ARGUMENT', 'query() takes a query object')
  const topK = query.topK ?? 10
  if (!Number.isInteger(topK) || topK < 1 || topK > maxTopK) {
    throw new StorageError('INVALID_ARGUMENT', `topK must be an integer from 1 to ${maxTopK}, got ${topK}`)
  }
  const vector = query.vector === undefined ? undefined : toVector(query.vector, dimension, 'query vector')
  if (query.text !== undefined && typeof query.text !== 'string') {
    throw new StorageError('INVALID_ARGUMENT', 'query text must be a string')
  }
  const text = query.text?.trim() ? query.text : undefined
  const mode = query.mode ?? (vector && text ? 'hybrid' : text && !vector ? 'text' : 'vector')
  if (mode !== 'vector' && mode !== 'text' && mode !== 'hybrid') {
    throw new StorageError('INVALID_ARGUMENT', `mode must be 'vector', 'text' or 'hybrid', got ${JSON.stringify(mode)}`)
  }
  if ((mode === 'vector' || mode === 'hybrid') && !vector) {
    throw new StorageError('INVALID_ARGUMENT', `A ${mode} query needs a vector`)
  }
  if ((mode === 'text' || mode === 'hybrid') && query.text === undefined) {
    throw new StorageError('INVALID_ARGUMENT', `A ${mode} query needs text`)
  }
  const rrfK = query.rrfK ?? 60
  if (!Number.isFinite(rrfK) || rrfK < 0) throw new StorageError('INVALID_ARGUMENT', 'rrfK must be a non-negative number')
  const valid: ValidQuery = { topK, mode, rrfK, includeVectors: query.includeVectors === true }
  if (vector) valid.vector = vector
  if (text !== undefined) valid.text = text
  if (query.filter !== undefined) valid.filter = query.filter
  return valid
}
