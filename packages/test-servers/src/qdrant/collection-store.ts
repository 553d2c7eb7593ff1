import type { Schemas } from '@qdrant/js-client-rest'
import { assertValidFilter, checkFilter } from './filter-check.js'
import { comparePointIds, type PointId, parsePointId, pointKey } from './point-id.js'
import { notImplemented, QdrantHttpError } from './qdrant-http-error.js'
import { preprocess } from './scoring.js'

type Payload = Record<string, unknown>
type SparseVector = Schemas['SparseVector']

/** One stored point: its id, its vectors by name (dense ones already preprocessed) and its payload. */
export interface StoredPoint {
  /** The point id. */
  readonly id: PointId
  /** The map key of the id. */
  readonly key: string
  /** Vectors by name; `''` is the unnamed vector. */
  readonly vectors: ReadonlyMap<string, number[] | SparseVector>
  /** The payload. */
  readonly payload: Payload
  /** The operation that last wrote it. */
  readonly version: number
}

/** A collection: its configuration as created, its payload indexes and its points. */
export interface TestCollection {
  /** The collection's name. */
  readonly name: string
  /** The create request's `vectors`, named (`''` for the single unnamed vector). */
  readonly dense: ReadonlyMap<string, Schemas['VectorParams']>
  /** Whether `vectors` was a single unnamed vector. */
  readonly unnamed: boolean
  /** Sparse vectors by name. */
  readonly sparse: ReadonlyMap<string, Schemas['SparseVectorParams']>
  /** The collection's configuration as `GET /collections/{name}` reports it. */
  readonly config: Schemas['CollectionConfig']
  /** Payload indexes by field name. */
  readonly indexes: Map<string, Schemas['PayloadFieldSchema']>
  /** Points by key. */
  readonly points: Map<string, StoredPoint>
}

/** Characters Qdrant refuses in collection names (they would break paths on disk): `<>:"/\\|?*` and control characters. */
function hasForbiddenCharacter(name: string): boolean {
  return [...name].some((ch) => '<>:"/\\|?*'.includes(ch) || (ch.codePointAt(0) as number) < 0x20)
}

/** The in-memory state of every collection, with the operations the REST handlers call. */
export class CollectionStore {
  readonly #collections = new Map<string, TestCollection>()
  #operation = 0

  /** Every collection's name. */
  names(): string[] {
    return [...this.#collections.keys()]
  }

  /** The collection, or the 404 Qdrant answers with. */
  get(name: string): TestCollection {
    const collection = this.#collections.get(name)
    if (!collection) throw new QdrantHttpError(404, `Not found: Collection \`${name}\` doesn't exist!`)
    return collection
  }

  /** Whether the collection exists. */
  has(name: string): boolean {
    return this.#collections.has(name)
  }

  /** `PUT /collections/{name}`: 409 when it exists, 400/422 for a bad configuration. */
  create(name: string, request: Schemas['CreateCollection']): true {
    if (name.length === 0 || name.length > 255 || hasForbiddenCharacter(name)) {
      throw new QdrantHttpError(
        422,
        `Validation error in path parameters: [name: collection name "${name}" is invalid]`,
      )
    }
    if (this.#collections.has(name)) {
      throw new QdrantHttpError(409, `Wrong input: Collection \`${name}\` already exists!`)
    }
    const { dense, unnamed } = denseConfig(request.vectors)
    const sparse = new Map(Object.entries(request.sparse_vectors ?? {}).map(([n, p]) => [n, p ?? {}]))
    for (const vectorName of sparse.keys()) {
      if (dense.has(vectorName)) {
        throw new QdrantHttpError(
          400,
          `Wrong input: Vector name ${vectorName} is used by both a dense and a sparse vector`,
        )
      }
    }
    const hnsw = (request.hnsw_config ?? {}) as Schemas['HnswConfigDiff']
    const quantization = (request.quantization_config ?? null) as Schemas['QuantizationConfig'] | null
    const params: Schemas['CollectionParams'] = {
      vectors: unnamed ? (dense.get('') as Schemas['VectorParams']) : Object.fromEntries(dense),
      shard_number: request.shard_number ?? 1,
      replication_factor: request.replication_factor ?? 1,
      write_consistency_factor: request.write_consistency_factor ?? 1,
      on_disk_payload: request.on_disk_payload ?? true,
    }
    if (sparse.size > 0) params.sparse_vectors = Object.fromEntries(sparse)
    const config: Schemas['CollectionConfig'] = {
      params,
      hnsw_config: {
        m: hnsw.m ?? 16,
        ef_construct: hnsw.ef_construct ?? 100,
        full_scan_threshold: hnsw.full_scan_threshold ?? 10_000,
        max_indexing_threads: hnsw.max_indexing_threads ?? 0,
        on_disk: hnsw.on_disk ?? false,
        ...(hnsw.payload_m === undefined || hnsw.payload_m === null ? {} : { payload_m: hnsw.payload_m }),
      },
      optimizer_config: {
        deleted_threshold: 0.2,
        vacuum_min_vector_number: 1000,
        default_segment_number: 0,
        max_segment_size: null,
        memmap_threshold: null,
        indexing_threshold: 10_000,
        flush_interval_sec: 5,
        max_optimization_threads: null,
      },
      quantization_config: quantization,
    }
    this.#collections.set(name, {
      name,
      dense,
      unnamed,
      sparse,
      config,
      indexes: new Map(),
      points: new Map(),
    })
    return true
  }

  /** `DELETE /collections/{name}`: `true` when it existed. */
  drop(name: string): boolean {
    return this.#collections.delete(name)
  }

  /** `GET /collections/{name}`. */
  info(name: string): Schemas['CollectionInfo'] {
    const collection = this.get(name)
    const payloadSchema: Schemas['CollectionInfo']['payload_schema'] = {}
    for (const [field, schema] of collection.indexes) {
      const params = typeof schema === 'string' ? undefined : schema
      const points = [...collection.points.values()].filter((p) => Object.hasOwn(p.payload, field)).length
      payloadSchema[field] = {
        data_type: typeof schema === 'string' ? schema : (schema.type as Schemas['PayloadSchemaType']),
        ...(params ? { params } : {}),
        points,
      }
    }
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0,
      points_count: collection.points.size,
      segments_count: 1,
      config: collection.config,
      payload_schema: payloadSchema,
    }
  }

  /** `PUT /collections/{name}/index`. */
  createIndex(name: string, request: Schemas['CreateFieldIndex']): Schemas['UpdateResult'] {
    const collection = this.get(name)
    if (typeof request.field_name !== 'string' || request.field_name === '') {
      throw new QdrantHttpError(422, 'Validation error in JSON body: [field_name: must not be empty]')
    }
    const schema = request.field_schema as Schemas['PayloadFieldSchema'] | null | undefined
    if (schema === null || schema === undefined) {
      throw new QdrantHttpError(400, 'Wrong input: Field schema is required to create a payload index')
    }
    collection.indexes.set(request.field_name, schema)
    return this.#completed()
  }

  /** `PUT /collections/{name}/points`: inserts or replaces whole points (every vector and the payload). */
  upsert(name: string, request: Schemas['PointInsertOperations'], wait: boolean): Schemas['UpdateResult'] {
    const collection = this.get(name)
    if (!('points' in request) || !Array.isArray(request.points))
      throw notImplemented('upsert of a points batch')
    if ('update_filter' in request && request.update_filter) throw notImplemented('upsert with update_filter')
    const version = ++this.#operation
    // Everything is checked before anything is written: Qdrant applies one request as one operation.
    const points = request.points.map((point, i) => toStored(collection, point, i, version))
    for (const point of points) collection.points.set(point.key, point)
    return { operation_id: version, status: wait ? 'completed' : 'acknowledged' }
  }

  /** `POST /collections/{name}/points`: the points with these ids that exist, in the order asked. */
  retrieve(name: string, request: Schemas['PointRequest']): Schemas['Record'][] {
    const collection = this.get(name)
    const seen = new Set<string>()
    const out: Schemas['Record'][] = []
    for (const raw of request.ids) {
      const key = pointKey(parsePointId(raw))
      const point = collection.points.get(key)
      if (!point || seen.has(key)) continue
      seen.add(key)
      out.push(toRecord(collection, point, request.with_payload ?? true, request.with_vector ?? false))
    }
    return out
  }

  /** `POST /collections/{name}/points/delete`: by ids or by filter. */
  deletePoints(name: string, request: Schemas['PointsSelector'], wait: boolean): Schemas['UpdateResult'] {
    const collection = this.get(name)
    const version = ++this.#operation
    if ('points' in request) {
      for (const raw of request.points) collection.points.delete(pointKey(parsePointId(raw)))
    } else if ('filter' in request) {
      for (const point of this.matching(collection, request.filter)) collection.points.delete(point.key)
    } else {
      throw new QdrantHttpError(400, 'Format error in JSON body: expected `points` or `filter`')
    }
    return { operation_id: version, status: wait ? 'completed' : 'acknowledged' }
  }

  /** `POST /collections/{name}/points/count`: always exact here. */
  count(name: string, request: Schemas['CountRequest']): Schemas['CountResult'] {
    return { count: this.matching(this.get(name), request.filter).length }
  }

  /** `POST /collections/{name}/points/scroll`: pages in id order; `next_page_offset` is the next page's first id. */
  scroll(name: string, request: Schemas['ScrollRequest']): Schemas['ScrollResult'] {
    if (request.order_by) throw notImplemented('scroll with order_by')
    const collection = this.get(name)
    const limit = request.limit ?? 10
    if (!Number.isInteger(limit) || limit < 1) {
      throw new QdrantHttpError(
        422,
        'Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]',
      )
    }
    const from =
      request.offset === null || request.offset === undefined
        ? undefined
        : parsePointId(request.offset as Schemas['ExtendedPointId'])
    const all = this.matching(collection, request.filter).filter(
      (point) => from === undefined || comparePointIds(point.id, from) >= 0,
    )
    const page = all.slice(0, limit)
    const withPayload = request.with_payload ?? true
    const withVector = request.with_vector ?? false
    return {
      points: page.map((point) => toRecord(collection, point, withPayload, withVector)),
      next_page_offset: all[limit]?.id ?? null,
    }
  }

  /** The points passing `filter`, in id order. */
  matching(
    collection: TestCollection,
    filter: Schemas['Filter'] | Record<string, unknown> | null | undefined,
  ) {
    if (filter !== null && filter !== undefined) assertValidFilter(filter)
    const out: StoredPoint[] = []
    for (const point of collection.points.values()) {
      const target = { id: point.id, payload: point.payload, vectors: new Set(point.vectors.keys()) }
      if (checkFilter(filter as Schemas['Filter'] | undefined, target)) out.push(point)
    }
    return out.sort((a, b) => comparePointIds(a.id, b.id))
  }

  #completed(): Schemas['UpdateResult'] {
    return { operation_id: ++this.#operation, status: 'completed' }
  }
}

function denseConfig(vectors: Schemas['VectorsConfig'] | undefined): {
  dense: Map<string, Schemas['VectorParams']>
  unnamed: boolean
} {
  if (vectors === undefined) return { dense: new Map(), unnamed: false }
  const isParams = (value: unknown): value is Schemas['VectorParams'] =>
    typeof value === 'object' && value !== null && 'size' in value && 'distance' in value
  const entries: Array<[string, Schemas['VectorParams']]> = isParams(vectors)
    ? [['', vectors]]
    : Object.entries(vectors).map(([name, params]) => [name, params as Schemas['VectorParams']])
  for (const [name, params] of entries) {
    if (!isParams(params) || !Number.isInteger(params.size) || params.size < 1) {
      throw new QdrantHttpError(
        422,
        `Validation error in JSON body: [vectors${name ? `.${name}` : ''}.size: must be 1 or larger]`,
      )
    }
    if (!['Cosine', 'Euclid', 'Dot', 'Manhattan'].includes(params.distance)) {
      throw new QdrantHttpError(
        400,
        `Format error in JSON body: unknown variant \`${params.distance}\`, expected one of \`Cosine\`, \`Euclid\`, \`Dot\`, \`Manhattan\``,
      )
    }
    if (params.multivector_config) throw notImplemented('multivectors')
    if (params.datatype && params.datatype !== 'float32')
      throw notImplemented(`the ${params.datatype} datatype`)
  }
  return { dense: new Map(entries), unnamed: isParams(vectors) }
}

function toStored(
  collection: TestCollection,
  point: Schemas['PointStruct'],
  i: number,
  version: number,
): StoredPoint {
  const id = parsePointId(point.id)
  const given: Array<[string, unknown]> = Array.isArray(point.vector)
    ? [['', point.vector]]
    : Object.entries((point.vector ?? {}) as Record<string, unknown>)
  const vectors = new Map<string, number[] | SparseVector>()
  for (const [name, value] of given) {
    const dense = collection.dense.get(name)
    const sparse = collection.sparse.get(name)
    if (dense) {
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'number')) {
        throw new QdrantHttpError(
          400,
          `Format error in JSON body: points[${i}].vector.${name} must be a list of numbers`,
        )
      }
      if (value.length !== dense.size) {
        throw new QdrantHttpError(
          400,
          `Wrong input: Vector dimension error: expected dim: ${dense.size}, got ${value.length}`,
        )
      }
      vectors.set(name, preprocess(dense.distance, value))
    } else if (sparse) {
      vectors.set(name, checkSparse(value, `points[${i}].vector.${name}`))
    } else {
      throw new QdrantHttpError(
        400,
        `Wrong input: Not existing vector name error: ${name === '' ? 'default vector' : name}`,
      )
    }
  }
  const payload = point.payload ?? {}
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new QdrantHttpError(400, `Format error in JSON body: points[${i}].payload must be an object`)
  }
  // A copy, so later changes to the request body cannot reach the stored point.
  return { id, key: pointKey(id), vectors, payload: structuredClone(payload) as Payload, version }
}

/** Checks a sparse vector as Qdrant validates it: equal lengths, unique indices. */
export function checkSparse(value: unknown, where: string): SparseVector {
  const sparse = value as SparseVector
  if (
    typeof value !== 'object' ||
    value === null ||
    !Array.isArray(sparse.indices) ||
    !Array.isArray(sparse.values) ||
    !sparse.indices.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff) ||
    !sparse.values.every((x) => typeof x === 'number')
  ) {
    throw new QdrantHttpError(
      400,
      `Format error in JSON body: ${where} must be a sparse vector { indices, values }`,
    )
  }
  if (sparse.indices.length !== sparse.values.length) {
    throw new QdrantHttpError(
      422,
      `Validation error in JSON body: [${where}: must be the same length as indices]`,
    )
  }
  if (new Set(sparse.indices).size !== sparse.indices.length) {
    throw new QdrantHttpError(422, `Validation error in JSON body: [${where}.indices: must be unique]`)
  }
  return { indices: [...sparse.indices], values: [...sparse.values] }
}

/** A point as a REST `Record`, with the payload and vectors the request selected. */
export function toRecord(
  collection: TestCollection,
  point: StoredPoint,
  withPayload: Schemas['WithPayloadInterface'] | Record<string, unknown> | null,
  withVector: Schemas['WithVector'] | Record<string, unknown> | null,
): Schemas['Record'] {
  const record: Schemas['Record'] = { id: point.id }
  const payload = selectPayload(point.payload, withPayload)
  if (payload !== undefined) record.payload = payload
  const vector = selectVectors(collection, point, withVector)
  if (vector !== undefined) record.vector = vector
  return record
}

function selectPayload(payload: Payload, selector: unknown): Payload | undefined {
  if (selector === false || selector === null || selector === undefined) return undefined
  if (selector === true) return structuredClone(payload)
  const include = Array.isArray(selector)
    ? (selector as string[])
    : typeof selector === 'object' && 'include' in selector
      ? (selector as Schemas['PayloadSelectorInclude']).include
      : undefined
  if (include) {
    const out: Payload = {}
    for (const key of include) if (Object.hasOwn(payload, key)) out[key] = structuredClone(payload[key])
    return out
  }
  if (typeof selector === 'object' && 'exclude' in selector) {
    const out = structuredClone(payload)
    for (const key of (selector as Schemas['PayloadSelectorExclude']).exclude) delete out[key]
    return out
  }
  throw new QdrantHttpError(400, 'Format error in JSON body: invalid with_payload')
}

function selectVectors(
  collection: TestCollection,
  point: StoredPoint,
  selector: unknown,
): Schemas['VectorStructOutput'] | undefined {
  if (selector === false || selector === null || selector === undefined) return undefined
  const names =
    selector === true
      ? [...point.vectors.keys()]
      : Array.isArray(selector)
        ? (selector as string[])
        : undefined
  if (names === undefined) throw new QdrantHttpError(400, 'Format error in JSON body: invalid with_vector')
  if (collection.unnamed && selector === true)
    return [...((point.vectors.get('') as number[] | undefined) ?? [])]
  const out: Record<string, Schemas['VectorOutput']> = {}
  for (const name of names) {
    const vector = point.vectors.get(name)
    if (vector === undefined) continue
    out[name] = Array.isArray(vector)
      ? [...vector]
      : { indices: [...vector.indices], values: [...vector.values] }
  }
  return out
}
