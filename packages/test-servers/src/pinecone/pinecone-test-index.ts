import type {
  DeleteRequest,
  FetchByMetadataRequest,
  FetchByMetadataResponse,
  FetchResponse,
  IndexDescription,
  ListNamespacesResponse,
  ListResponse,
  NamespaceDescription,
  QueryRequest,
  QueryResponse,
  ScoredVector,
  UpsertRequest,
  UpsertResponse,
  Vector,
} from '@pinecone-database/pinecone/dist/pinecone-generated-ts-fetch/db_data/index.js'
import {
  compilePineconeFilter,
  PineconeFilterError,
  type PineconeMetadata,
  type PineconeMetadataValue,
  type PineconePredicate,
} from './pinecone-test-filter.js'

/** A Pinecone distance metric, as the API spells it. */
export type PineconeMetric = 'cosine' | 'dotproduct' | 'euclidean'

/** An index the test server hosts. */
export interface PineconeTestIndexSpec {
  /** The index name (lower-case letters, digits and `-`, at most 45). */
  name: string
  /** Dimensions of every dense vector, 1 to 20,000. */
  dimension: number
  /** The metric. Default is `'cosine'`, like Pinecone's. */
  metric?: PineconeMetric
  /** How the index is deployed; pod-based indexes refuse list and namespace operations. Default is `'serverless'`. */
  deployment?: 'serverless' | 'pod'
}

/** An error the service would answer with: an HTTP status, a gRPC code and a message. */
export class PineconeApiError extends Error {
  override readonly name = 'PineconeApiError'
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The gRPC status code in the body (3 invalid argument, 5 not found, 6 already exists, 8 exhausted, 16 unauthenticated). */
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

/** Pinecone's documented limits. */
export const PINECONE_LIMITS = Object.freeze({
  /** Records per upsert, fetch or delete request. */
  recordsPerRequest: 1_000,
  /** Metadata bytes per record (its JSON, UTF-8). */
  metadataBytes: 40_960,
  /** Characters in a record id or namespace name (ASCII except NUL). */
  identifierLength: 512,
  /** The largest `topK`. */
  topK: 10_000,
  /** The largest dense dimension. */
  dimension: 20_000,
  /** Bytes in a query response. */
  resultBytes: 4_000_000,
  /** Ids per list page. */
  listLimit: 100,
})

interface StoredVector {
  readonly id: string
  readonly values: Float32Array
  readonly metadata: PineconeMetadata | undefined
}

const DEFAULT_NAMESPACE_NAME = '__default__'

/** One index's data: namespaces of records, and the data-plane operations on them. */
export class PineconeTestIndex {
  /** The index name. */
  readonly name: string
  /** Its dimension. */
  readonly dimension: number
  /** Its metric. */
  readonly metric: PineconeMetric
  /** How it is deployed. */
  readonly deployment: 'serverless' | 'pod'
  readonly #namespaces = new Map<string, Map<string, StoredVector>>()

  constructor(spec: PineconeTestIndexSpec) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?$/.test(spec.name)) {
      throw new Error(`Invalid index name ${JSON.stringify(spec.name)}: lower-case letters, digits and -`)
    }
    if (
      !Number.isInteger(spec.dimension) ||
      spec.dimension < 1 ||
      spec.dimension > PINECONE_LIMITS.dimension
    ) {
      throw new Error(`Invalid dimension ${spec.dimension}: 1 to ${PINECONE_LIMITS.dimension}`)
    }
    this.name = spec.name
    this.dimension = spec.dimension
    this.metric = spec.metric ?? 'cosine'
    this.deployment = spec.deployment ?? 'serverless'
  }

  upsert(request: UpsertRequest): UpsertResponse {
    const vectors = request.vectors
    if (!Array.isArray(vectors) || vectors.length === 0) invalid('Upsert needs at least one vector')
    if (vectors.length > PINECONE_LIMITS.recordsPerRequest) {
      invalid(
        `Batch size ${vectors.length} exceeds the maximum of ${PINECONE_LIMITS.recordsPerRequest} vectors per upsert`,
      )
    }
    const namespace = this.#namespaceName(request.namespace)
    // Every vector is checked before any is stored: a refused request changes nothing.
    const checked = vectors.map((vector) => this.#checkVector(vector))
    let records = this.#namespaces.get(namespace)
    if (!records) {
      records = new Map()
      this.#namespaces.set(namespace, records)
    }
    for (const vector of checked) records.set(vector.id, vector)
    return { upsertedCount: checked.length }
  }

  query(request: QueryRequest): QueryResponse {
    const topK = request.topK
    if (!Number.isInteger(topK) || topK < 1 || topK > PINECONE_LIMITS.topK) {
      invalid(`topK must be an integer from 1 to ${PINECONE_LIMITS.topK}, got ${topK}`)
    }
    if (request.id !== undefined || request.queries !== undefined || request.sparseVector !== undefined) {
      invalid('This test server answers queries by dense vector only')
    }
    const query = this.#checkValues(request.vector, 'The query vector')
    const namespace = this.#namespaceName(request.namespace)
    const predicate = compileFilter(request.filter)
    const scored: Array<{ record: StoredVector; score: number }> = []
    for (const record of this.#records(namespace)) {
      if (predicate(record.metadata ?? {})) scored.push({ record, score: this.#score(query, record.values) })
    }
    // Pinecone ranks euclidean by ascending squared distance and the others by descending score.
    const sign = this.metric === 'euclidean' ? 1 : -1
    scored.sort((a, b) => sign * (a.score - b.score) || (a.record.id < b.record.id ? -1 : 1))
    const matches = scored.slice(0, topK).map(({ record, score }): ScoredVector => {
      const match: ScoredVector = { id: record.id, score }
      if (request.includeValues === true) match.values = Array.from(record.values)
      if (request.includeMetadata === true && record.metadata) match.metadata = copyMetadata(record.metadata)
      return match
    })
    return {
      matches,
      namespace: request.namespace ?? '',
      usage: { readUnits: 1 + Math.ceil(matches.length / 10) },
    }
  }

  fetch(ids: readonly string[], namespaceName: string | undefined): FetchResponse {
    if (ids.length === 0) invalid('Fetch needs at least one id')
    if (ids.length > PINECONE_LIMITS.recordsPerRequest) {
      invalid(`Fetch takes at most ${PINECONE_LIMITS.recordsPerRequest} ids, got ${ids.length}`)
    }
    for (const id of ids) {
      if (id.includes(' ')) invalid(`Fetch does not accept ids containing spaces: ${JSON.stringify(id)}`)
    }
    const records = this.#namespaces.get(this.#namespaceName(namespaceName))
    // No prototype: a record id such as `__proto__` is an ordinary key here.
    const vectors: Record<string, Vector> = Object.create(null)
    for (const id of ids) {
      const record = records?.get(id)
      if (record) vectors[id] = toVector(record)
    }
    return { vectors, namespace: namespaceName ?? '', usage: { readUnits: 1 } }
  }

  fetchByMetadata(request: FetchByMetadataRequest): FetchByMetadataResponse {
    const limit = request.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > PINECONE_LIMITS.topK) {
      invalid(`limit must be an integer from 1 to ${PINECONE_LIMITS.topK}, got ${limit}`)
    }
    if (request.filter === undefined) invalid('Fetch by metadata needs a filter')
    const predicate = compileFilter(request.filter)
    const after = readToken(request.paginationToken)
    const matching = this.#sortedRecords(this.#namespaceName(request.namespace)).filter(
      (record) => (after === undefined || record.id > after) && predicate(record.metadata ?? {}),
    )
    const page = matching.slice(0, limit)
    const vectors: Record<string, Vector> = Object.create(null)
    for (const record of page) vectors[record.id] = toVector(record)
    const response: FetchByMetadataResponse = {
      vectors,
      namespace: request.namespace ?? '',
      usage: { readUnits: 1 + Math.ceil(page.length / 10) },
    }
    const last = page.at(-1)
    if (matching.length > limit && last) response.pagination = { next: writeToken(last.id) }
    return response
  }

  list(options: {
    namespace?: string
    prefix?: string
    limit?: number
    paginationToken?: string
  }): ListResponse {
    this.#serverlessOnly('list')
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > PINECONE_LIMITS.listLimit) {
      invalid(`limit must be an integer from 1 to ${PINECONE_LIMITS.listLimit}, got ${limit}`)
    }
    const prefix = options.prefix ?? ''
    if (prefix.includes(' ')) invalid('The prefix must not contain spaces')
    const after = readToken(options.paginationToken)
    const ids = this.#sortedRecords(this.#namespaceName(options.namespace))
      .map((record) => record.id)
      .filter((id) => id.startsWith(prefix) && (after === undefined || id > after))
    const page = ids.slice(0, limit)
    const response: ListResponse = {
      vectors: page.map((id) => ({ id })),
      namespace: options.namespace ?? '',
      usage: { readUnits: 1 },
    }
    const last = page.at(-1)
    if (ids.length > limit && last !== undefined) response.pagination = { next: writeToken(last) }
    return response
  }

  delete(request: DeleteRequest): Record<string, never> {
    const targets = [request.ids !== undefined, request.deleteAll === true, request.filter !== undefined]
    if (targets.filter(Boolean).length !== 1) invalid('Delete takes exactly one of ids, deleteAll or filter')
    const namespace = this.#namespaceName(request.namespace)
    const records = this.#namespaces.get(namespace)
    if (!records) throw new PineconeApiError(404, 5, `Namespace ${JSON.stringify(namespace)} not found`)
    if (request.ids !== undefined) {
      if (request.ids.length === 0 || request.ids.length > PINECONE_LIMITS.recordsPerRequest) {
        invalid(`Delete takes 1 to ${PINECONE_LIMITS.recordsPerRequest} ids, got ${request.ids.length}`)
      }
      for (const id of request.ids) records.delete(id)
    } else if (request.deleteAll === true) {
      records.clear()
    } else {
      const predicate = compileFilter(request.filter)
      for (const [id, record] of records) if (predicate(record.metadata ?? {})) records.delete(id)
    }
    return {}
  }

  stats(filter: object | undefined): IndexDescription {
    if (filter !== undefined && this.deployment === 'serverless') {
      invalid('Serverless indexes do not support describing index stats with metadata filtering')
    }
    const predicate = compileFilter(filter)
    const namespaces: Record<string, { vectorCount: number }> = Object.create(null)
    let total = 0
    for (const [name, records] of this.#namespaces) {
      let vectorCount = 0
      for (const record of records.values()) if (predicate(record.metadata ?? {})) vectorCount++
      total += records.size
      if (records.size > 0) namespaces[name] = { vectorCount }
    }
    return {
      namespaces,
      dimension: this.dimension,
      indexFullness: 0,
      totalVectorCount: total,
      metric: this.metric,
      vectorType: 'dense',
    }
  }

  listNamespaces(options: {
    prefix?: string
    limit?: number
    paginationToken?: string
  }): ListNamespacesResponse {
    this.#serverlessOnly('list namespaces')
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000)
      invalid('limit must be an integer from 1 to 1000')
    const after = readToken(options.paginationToken)
    const names = [...this.#namespaces.keys()]
      .map((name) => (name === '' ? DEFAULT_NAMESPACE_NAME : name))
      .filter((name) => name.startsWith(options.prefix ?? ''))
      .sort()
    const remaining = names.filter((name) => after === undefined || name > after)
    const page = remaining.slice(0, limit)
    const response: ListNamespacesResponse = {
      namespaces: page.map((name) => this.#describe(name)),
      totalCount: names.length,
    }
    const last = page.at(-1)
    if (remaining.length > limit && last !== undefined) response.pagination = { next: writeToken(last) }
    return response
  }

  describeNamespace(name: string): NamespaceDescription {
    this.#serverlessOnly('describe namespace')
    if (!this.#namespaces.has(this.#namespaceName(name))) {
      throw new PineconeApiError(404, 5, `Namespace ${JSON.stringify(name)} not found`)
    }
    return this.#describe(name)
  }

  createNamespace(name: string): NamespaceDescription {
    this.#serverlessOnly('create namespace')
    const key = this.#namespaceName(name)
    if (this.#namespaces.has(key))
      throw new PineconeApiError(409, 6, `Namespace ${JSON.stringify(name)} already exists`)
    this.#namespaces.set(key, new Map())
    return this.#describe(name)
  }

  deleteNamespace(name: string): Record<string, never> {
    this.#serverlessOnly('delete namespace')
    if (!this.#namespaces.delete(this.#namespaceName(name))) {
      throw new PineconeApiError(404, 5, `Namespace ${JSON.stringify(name)} not found`)
    }
    return {}
  }

  /** The number of records in a namespace (0 when it does not exist). */
  recordCount(namespace: string): number {
    return this.#namespaces.get(namespace)?.size ?? 0
  }

  /** The names of the namespaces that exist, sorted. */
  namespaceNames(): string[] {
    return [...this.#namespaces.keys()].sort()
  }

  #describe(name: string): NamespaceDescription {
    return { name, recordCount: this.recordCount(this.#namespaceName(name)) }
  }

  #namespaceName(name: string | undefined): string {
    if (name === undefined || name === '' || name === DEFAULT_NAMESPACE_NAME) return ''
    if (
      typeof name !== 'string' ||
      name.length > PINECONE_LIMITS.identifierLength ||
      !isAsciiWithoutNul(name)
    ) {
      invalid(
        `Invalid namespace name: ASCII without NUL, at most ${PINECONE_LIMITS.identifierLength} characters`,
      )
    }
    return name
  }

  #serverlessOnly(operation: string): void {
    if (this.deployment === 'pod')
      invalid(`The ${operation} operation is not supported for pod-based indexes`)
  }

  #records(namespace: string): Iterable<StoredVector> {
    return this.#namespaces.get(namespace)?.values() ?? []
  }

  #sortedRecords(namespace: string): StoredVector[] {
    return [...this.#records(namespace)].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  #checkVector(vector: Vector): StoredVector {
    const id = vector?.id
    if (
      typeof id !== 'string' ||
      id.length === 0 ||
      id.length > PINECONE_LIMITS.identifierLength ||
      !isAsciiWithoutNul(id)
    ) {
      invalid(
        `Vector ids must be 1 to ${PINECONE_LIMITS.identifierLength} ASCII characters without NUL, got ${JSON.stringify(id)}`,
      )
    }
    if (vector.sparseValues !== undefined) invalid('This test server stores dense vectors only')
    const values = this.#checkValues(vector.values, `Vector ${JSON.stringify(id)}`)
    if (values.every((x) => x === 0)) {
      invalid(`Dense vectors must contain at least one non-zero value. Vector ID '${id}' contains only zeros`)
    }
    return { id, values, metadata: checkMetadata(vector.metadata, id) }
  }

  #checkValues(values: unknown, what: string): Float32Array {
    if (!Array.isArray(values)) invalid(`${what} needs dense values`)
    if (values.length !== this.dimension) {
      invalid(`Vector dimension ${values.length} does not match the dimension of the index ${this.dimension}`)
    }
    for (const x of values)
      if (typeof x !== 'number' || !Number.isFinite(x))
        invalid(`${what} has a value that is not a finite number`)
    return Float32Array.from(values as number[])
  }

  #score(query: Float32Array, values: Float32Array): number {
    let dot = 0
    let qq = 0
    let vv = 0
    let squared = 0
    for (let i = 0; i < query.length; i++) {
      const q = query[i] as number
      const v = values[i] as number
      dot += q * v
      qq += q * q
      vv += v * v
      squared += (q - v) * (q - v)
    }
    if (this.metric === 'dotproduct') return Math.fround(dot)
    if (this.metric === 'euclidean') return Math.fround(squared)
    return qq === 0 || vv === 0 ? 0 : Math.fround(dot / Math.sqrt(qq * vv))
  }
}

/** Pinecone's identifier rule for record ids and namespace names: ASCII except NUL. */
function isAsciiWithoutNul(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 0 || code > 0x7f) return false
  }
  return true
}

function checkMetadata(metadata: unknown, id: string): PineconeMetadata | undefined {
  if (metadata === undefined || metadata === null) return undefined
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    invalid(`Metadata of vector '${id}' must be an object`)
  const size = Buffer.byteLength(JSON.stringify(metadata))
  if (size > PINECONE_LIMITS.metadataBytes) {
    invalid(
      `Metadata size is ${size} bytes, which exceeds the limit of ${PINECONE_LIMITS.metadataBytes} bytes per vector`,
    )
  }
  const copy: PineconeMetadata = {}
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith('$')) invalid(`Metadata keys must not start with $, got ${JSON.stringify(key)}`)
    if (!isMetadataValue(value)) {
      invalid(
        `Metadata value of field ${JSON.stringify(key)} must be a string, number, boolean or list of strings`,
      )
    }
    copy[key] = Array.isArray(value) ? [...value] : value
  }
  return copy
}

function isMetadataValue(value: unknown): value is PineconeMetadataValue {
  if (Array.isArray(value)) return value.every((item) => typeof item === 'string')
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  )
}

function copyMetadata(metadata: PineconeMetadata): PineconeMetadata {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]))
}

function toVector(record: StoredVector): Vector {
  const vector: Vector = { id: record.id, values: Array.from(record.values) }
  if (record.metadata) vector.metadata = copyMetadata(record.metadata)
  return vector
}

function compileFilter(filter: unknown): PineconePredicate {
  if (filter === undefined || filter === null) return () => true
  try {
    return compilePineconeFilter(filter)
  } catch (error) {
    if (error instanceof PineconeFilterError) invalid(`Invalid filter: ${error.message}`)
    throw error
  }
}

/** Pagination tokens are opaque to clients; here they carry the last id (or name) returned. */
function writeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url')
}

function readToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString()) as { after?: unknown }
    if (typeof parsed.after === 'string') return parsed.after
  } catch {
    // An unreadable token is the caller's error, reported below.
  }
  invalid('Invalid pagination token')
}

function invalid(message: string): never {
  throw new PineconeApiError(400, 3, message)
}
