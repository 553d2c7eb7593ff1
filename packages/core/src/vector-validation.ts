import { booleanOption } from './boolean-option.js'
import { type Filter, type FilterNode, type ValidateFilterOptions, validateFilter } from './filter.js'
import { StorageError } from './storage-error.js'
import type {
  CollectionSpec,
  DeleteTarget,
  Metadata,
  MetadataValue,
  VectorMetric,
  VectorQuery,
  VectorRecord,
} from './vector-store.js'
import { checkWellFormed } from './well-formed.js'

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
export function validateCollectionSpec(
  spec: CollectionSpec,
  maxDimension = 65_535,
): Required<CollectionSpec> {
  const dimension = spec?.dimension
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > maxDimension) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `dimension must be an integer from 1 to ${maxDimension}, got ${dimension}`,
    )
  }
  const metric = spec.metric ?? 'cosine'
  if (!METRICS.includes(metric)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `metric must be one of ${METRICS.join(', ')}, got ${JSON.stringify(metric)}`,
    )
  }
  return { dimension, metric }
}

/** The error for a collection spec that conflicts with the existing one. */
export function specMismatch(
  name: string,
  existing: Required<CollectionSpec>,
  wanted: Required<CollectionSpec>,
): StorageError {
  return new StorageError(
    'DIMENSION_MISMATCH',
    `Collection "${name}" exists with dimension ${existing.dimension} (${existing.metric}); cannot recreate it with dimension ${wanted.dimension} (${wanted.metric})`,
  )
}

/** The error for an operation on a collection that does not exist. */
export function collectionNotFound(name: string): StorageError {
  return new StorageError(
    'NOT_FOUND',
    `Collection "${name}" does not exist; create it with createCollection()`,
  )
}

/**
 * Checks a vector's length and values and returns it as a `Float32Array` (a copy, so later
 * changes by the caller cannot reach the store). `what` names it in errors.
 */
export function toVector(vector: unknown, dimension: number, what = 'vector'): Float32Array {
  const typed = ArrayBuffer.isView(vector) && !(vector instanceof DataView)
  if (!Array.isArray(vector) && !typed) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a Float32Array or an array of numbers`)
  }
  const source = vector as ArrayLike<number>
  if (source.length !== dimension) {
    throw new StorageError(
      'DIMENSION_MISMATCH',
      `${what} has ${source.length} dimensions; the collection has ${dimension}`,
    )
  }
  const out = new Float32Array(dimension)
  for (let i = 0; i < dimension; i++) {
    const x = source[i]
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new StorageError('INVALID_ARGUMENT', `${what} has a non-finite value (${x}) at index ${i}`)
    }
    out[i] = x
    if (!Number.isFinite(out[i])) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what} value ${x} at index ${i} does not fit in a 32-bit float`,
      )
    }
  }
  return out
}

/**
 * Checks metadata and returns a copy the caller can no longer change: a plain object of
 * strings, finite numbers, booleans and lists of strings, with plain-identifier keys.
 */
export function validateMetadata(metadata: unknown, what = 'metadata'): Metadata | undefined {
  if (metadata === undefined) return undefined
  const proto =
    typeof metadata === 'object' && metadata !== null ? Object.getPrototypeOf(metadata) : undefined
  if (proto !== Object.prototype && proto !== null) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a plain object`)
  }
  const copy: Record<string, MetadataValue> = {}
  for (const [key, value] of Object.entries(metadata as object)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) || key === '__proto__') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what} key ${JSON.stringify(key)} must be a plain identifier (letters, digits, _; at most 64)`,
      )
    }
    if (typeof value === 'string') {
      copy[key] = checkWellFormed(value, `${what}.${key}`)
    } else if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      copy[key] = value
    } else if (Array.isArray(value) && isStringList(value)) {
      for (let i = 0; i < value.length; i++) checkWellFormed(value[i] as string, `${what}.${key}[${i}]`)
      copy[key] = [...value]
    } else {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${what}.${key} must be a string, finite number, boolean or array of strings`,
      )
    }
  }
  return copy
}

function isStringList(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    if (!(i in list) || typeof list[i] !== 'string') return false // sparse slots are holes, not strings
  }
  return true
}

/**
 * Checks a record id: a non-empty string of at most 512 characters, well-formed Unicode without
 * NUL (so two different ids can never be stored as the same bytes).
 */
export function validateId(id: unknown, what = 'Record id'): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what}s must be non-empty strings of at most ${MAX_ID_LENGTH} characters, got ${describeValue(id)}`,
    )
  }
  return checkWellFormed(id, `${what} ${JSON.stringify(id)}`)
}

/** The longest tenant id accepted, in characters. */
export const MAX_TENANT_LENGTH = 256

/**
 * Checks a tenant id (or a user id that scopes data the same way): a string of at most 256
 * characters, well-formed Unicode without NUL. `''` means "no tenant" where a store allows it.
 */
export function validateTenant(tenant: unknown, what = 'tenant'): string {
  if (typeof tenant !== 'string' || tenant.length > MAX_TENANT_LENGTH) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} must be a string of at most ${MAX_TENANT_LENGTH} characters, got ${describeValue(tenant)}`,
    )
  }
  return checkWellFormed(tenant, what)
}

/** Checks a list of record ids, dropping repeats but keeping the first-seen order. */
export function validateIds(ids: unknown, what = 'ids'): string[] {
  if (!Array.isArray(ids)) throw new StorageError('INVALID_ARGUMENT', `${what} must be an array of strings`)
  const unique = new Set<string>()
  for (const id of ids) unique.add(validateId(id))
  return [...unique]
}

function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
  return value === null ? 'null' : typeof value
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
  if (!Array.isArray(records))
    throw new StorageError('INVALID_ARGUMENT', 'upsert() takes an array of records')
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
      if (typeof record.text !== 'string')
        throw new StorageError('INVALID_ARGUMENT', `records[${i}].text must be a string`)
      valid.text = checkWellFormed(record.text, `records[${i}].text`)
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
  if (typeof query !== 'object' || query === null)
    throw new StorageError('INVALID_ARGUMENT', 'query() takes a query object')
  const topK = query.topK ?? 10
  if (!Number.isInteger(topK) || topK < 1 || topK > maxTopK) {
    throw new StorageError('INVALID_ARGUMENT', `topK must be an integer from 1 to ${maxTopK}, got ${topK}`)
  }
  const vector = query.vector === undefined ? undefined : toVector(query.vector, dimension, 'query vector')
  if (query.text !== undefined && typeof query.text !== 'string') {
    throw new StorageError('INVALID_ARGUMENT', 'query text must be a string')
  }
  if (query.text !== undefined) checkWellFormed(query.text, 'query text')
  const text = query.text?.trim() ? query.text : undefined
  if (!vector && text === undefined) {
    throw new StorageError('INVALID_ARGUMENT', 'A query needs a vector, non-blank text, or both')
  }
  const mode = query.mode ?? (vector && text ? 'hybrid' : text && !vector ? 'text' : 'vector')
  if (mode !== 'vector' && mode !== 'text' && mode !== 'hybrid') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `mode must be 'vector', 'text' or 'hybrid', got ${JSON.stringify(mode)}`,
    )
  }
  if ((mode === 'vector' || mode === 'hybrid') && !vector) {
    throw new StorageError('INVALID_ARGUMENT', `A ${mode} query needs a vector`)
  }
  if ((mode === 'text' || mode === 'hybrid') && text === undefined) {
    throw new StorageError('INVALID_ARGUMENT', `A ${mode} query needs non-blank text`)
  }
  const rrfK = query.rrfK ?? 60
  if (!Number.isFinite(rrfK) || rrfK < 0)
    throw new StorageError('INVALID_ARGUMENT', 'rrfK must be a non-negative number')
  const valid: ValidQuery = {
    topK,
    mode,
    rrfK,
    includeVectors: booleanOption(query.includeVectors, false, 'includeVectors'),
  }
  if (vector) valid.vector = vector
  if (text !== undefined) valid.text = text
  if (query.filter !== undefined) valid.filter = query.filter
  return valid
}

/** Checks a `delete` target: exactly one of a list of ids or a filter, and returns it validated. */
export function validateDeleteTarget(
  target: DeleteTarget,
  options: ValidateFilterOptions = {},
): { ids: string[] } | { filter: FilterNode } {
  if (typeof target !== 'object' || target === null) {
    throw new StorageError('INVALID_ARGUMENT', 'delete() takes { ids } or { filter }')
  }
  const hasIds = 'ids' in target && target.ids !== undefined
  const hasFilter = 'filter' in target && target.filter !== undefined
  if (hasIds === hasFilter) {
    throw new StorageError('INVALID_ARGUMENT', 'delete() takes exactly one of { ids } or { filter }')
  }
  if (hasIds) {
    const ids = (target as { ids: unknown }).ids
    if (!Array.isArray(ids))
      throw new StorageError('INVALID_ARGUMENT', 'delete({ ids }) takes an array of ids')
    return { ids: validateIds(ids) }
  }
  return { filter: validateFilter((target as { filter: unknown }).filter, options) }
}

/** The largest `batchSize` a scan accepts. */
export const MAX_SCAN_BATCH = 10_000

/** Checks `scan` options and fills in the default batch size of 100. */
export function validateScanOptions(options: { filter?: Filter; batchSize?: number } = {}): {
  filter?: Filter
  batchSize: number
} {
  if (typeof options !== 'object' || options === null) {
    throw new StorageError('INVALID_ARGUMENT', 'scan() takes an options object { filter?, batchSize? }')
  }
  const batchSize = options.batchSize ?? 100
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_SCAN_BATCH) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `batchSize must be an integer from 1 to ${MAX_SCAN_BATCH}, got ${batchSize}`,
    )
  }
  return options.filter === undefined ? { batchSize } : { filter: options.filter, batchSize }
}
