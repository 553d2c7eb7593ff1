import {
  type CollectionSpec,
  collectionNotFound,
  FILTER_OPERATORS,
  type FilterNode,
  isStorageError,
  reciprocalRankFusion,
  StorageError,
  type StoreDeleteTarget,
  type StoredCollection,
  type StoreQuery,
  type StoreScanOptions,
  specMismatch,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorMetric,
  type VectorRecord,
  type VectorStore,
  VectorStoreBase,
  validateCollectionName,
} from '@engram/core'
import type { QdrantClient, Schemas } from '@qdrant/js-client-rest'
import { qdrantPointId } from './point-id.js'
import { isConflict, isNotFound, isRateLimited, qdrantError, retryAfterMs } from './qdrant-error.js'
import { qdrantFilter } from './qdrant-filter.js'
import {
  DENSE_VECTOR,
  engramId,
  PAYLOAD_KEYS,
  TEXT_VECTOR,
  toMatch,
  toPoint,
  toRecord,
} from './qdrant-points.js'
import { type QdrantSettings, type QdrantVectorStoreConfig, readSettings } from './qdrant-store-config.js'
import { textToSparseVector } from './sparse-text.js'
import { upsertBatches } from './upsert-batches.js'

/** An engram collection as found in Qdrant. */
interface QdrantCollection extends StoredCollection {
  /** The Qdrant collection's name (prefix included). */
  readonly qdrantName: string
  /** Whether it has the sparse text vector. */
  readonly hybrid: boolean
  /** Points across every tenant, as Qdrant counts them (approximate). */
  readonly points: number
  /** Whether the tenant payload index exists. */
  readonly tenantIndexed: boolean
}

type Filter = Schemas['Filter']
type Condition = Schemas['Condition']

const DISTANCE: Readonly<Record<VectorMetric, Schemas['Distance']>> = {
  cosine: 'Cosine',
  dot: 'Dot',
  euclidean: 'Euclid',
}
const METRIC: Readonly<Record<string, VectorMetric>> = { Cosine: 'cosine', Dot: 'dot', Euclid: 'euclidean' }
/** Qdrant accepts dense vectors of up to 65,536 dimensions. */
const MAX_DIMENSION = 65_536
/** Ids per retrieve or delete request. */
const ID_CHUNK = 1_000

/**
 * Opens a `VectorStore` on Qdrant through its official client. Each engram collection is a
 * Qdrant collection (`collectionPrefix` + name) with a named dense vector and, for text and
 * hybrid search, a named sparse vector with `modifier: idf`. Its dimension, metric and
 * hybrid setting are read back from Qdrant, so every store on the server sees the same
 * collections. No request is made until the first call.
 *
 * @example
 * const store = createQdrantVectorStore({ url: 'http://localhost:6333', tenant: 'acme' })
 * await store.createCollection('docs', { dimension: 384 })
 */
export function createQdrantVectorStore(config: QdrantVectorStoreConfig): VectorStore {
  return new QdrantVectorStore(config)
}

class QdrantVectorStore extends VectorStoreBase<QdrantCollection> {
  readonly kind = 'qdrant'
  readonly capabilities: VectorCapabilities
  readonly #settings: QdrantSettings
  readonly #client: QdrantClient
  readonly #tenant: string

  constructor(config: QdrantVectorStoreConfig) {
    super()
    this.#settings = readSettings(config)
    this.#client = this.#settings.client
    this.#tenant = this.#settings.tenant
    this.capabilities = Object.freeze({
      hybrid: this.#settings.hybrid,
      operators: FILTER_OPERATORS,
      metrics: Object.freeze(['cosine', 'dot', 'euclidean'] as const),
      maxDimension: MAX_DIMENSION,
      exact: false,
      stringRanges: false,
    })
  }

  protected async findCollection(name: string): Promise<QdrantCollection | undefined> {
    const qdrantName = this.#settings.prefix + name
    let info: Schemas['CollectionInfo']
    try {
      info = await this.#call(`read Qdrant collection ${qdrantName}`, () =>
        this.#client.getCollection(qdrantName),
      )
    } catch (error) {
      if (isStorageError(error, 'NOT_FOUND')) return undefined
      throw error
    }
    const params = info.config.params
    const vectors = params.vectors as Record<string, Schemas['VectorParams'] | undefined> | undefined
    const dense = vectors?.[DENSE_VECTOR]
    const metric = dense ? METRIC[dense.distance] : undefined
    if (!dense || metric === undefined || typeof dense.size !== 'number') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `Qdrant collection ${qdrantName} was not made by engram (it has no "${DENSE_VECTOR}" vector with a Cosine, Dot or Euclid distance); use another collection name or collectionPrefix`,
      )
    }
    return {
      name,
      qdrantName,
      dimension: dense.size,
      metric,
      hybrid: params.sparse_vectors?.[TEXT_VECTOR] !== undefined,
      points: info.points_count ?? 0,
      tenantIndexed: info.payload_schema?.[PAYLOAD_KEYS.tenant] !== undefined,
    }
  }

  protected async addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    const existing = await this.findCollection(name)
    if (existing) return this.#adopt(existing, spec)
    const qdrantName = this.#settings.prefix + name
    const request: Parameters<QdrantClient['createCollection']>[1] = {
      vectors: {
        [DENSE_VECTOR]: {
          size: spec.dimension,
          distance: DISTANCE[spec.metric],
          ...(this.#settings.onDisk ? { on_disk: true } : {}),
        },
      },
      hnsw_config: { m: this.#settings.m, ef_construct: this.#settings.efConstruction },
    }
    if (this.#settings.hybrid) request.sparse_vectors = { [TEXT_VECTOR]: { modifier: 'idf' } }
    if (this.#settings.quantization) request.quantization_config = this.#settings.quantization
    if (this.#settings.shardNumber !== undefined) request.shard_number = this.#settings.shardNumber
    if (this.#settings.replicationFactor !== undefined)
      request.replication_factor = this.#settings.replicationFactor
    try {
      await this.#call(`create Qdrant collection ${qdrantName}`, () =>
        this.#client.createCollection(qdrantName, request),
      )
    } catch (error) {
      // Another store created it first: it is ours too if the spec matches.
      const raced = isConflict((error as Error).cause) ? await this.findCollection(name) : undefined
      if (raced === undefined) throw error
      return this.#adopt(raced, spec)
    }
    await this.#indexTenant(qdrantName)
  }

  /** An existing collection asked for again: the same spec is a no-op (after making sure of the tenant index). */
  async #adopt(existing: QdrantCollection, spec: Required<CollectionSpec>): Promise<void> {
    if (existing.dimension !== spec.dimension || existing.metric !== spec.metric) {
      throw specMismatch(existing.name, existing, spec)
    }
    if (!existing.tenantIndexed) await this.#indexTenant(existing.qdrantName)
  }

  protected async removeCollection(name: string): Promise<void> {
    const qdrantName = this.#settings.prefix + name
    try {
      if (this.#tenant === '') {
        await this.#call(`drop Qdrant collection ${qdrantName}`, () =>
          this.#client.deleteCollection(qdrantName),
        )
      } else {
        // A collection is shared by every tenant: a tenant-scoped store removes only its own points.
        await this.#call(`drop tenant points from ${qdrantName}`, () =>
          this.#client.delete(qdrantName, { wait: true, filter: this.#where(undefined) }),
        )
      }
    } catch (error) {
      // Dropping what is not there is a no-op.
      if (!isStorageError(error, 'NOT_FOUND')) throw error
    }
  }

  protected async collectionNames(): Promise<string[]> {
    const { collections } = await this.#call('list Qdrant collections', () => this.#client.getCollections())
    return collections
      .map(({ name }) => name)
      .filter((name) => name.startsWith(this.#settings.prefix))
      .map((name) => name.slice(this.#settings.prefix.length))
      .filter(isCollectionName)
  }

  protected async upsertRecords(collection: QdrantCollection, records: ValidRecord[]): Promise<void> {
    const points = records.map((record) => toPoint(record, this.#tenant, collection))
    // Qdrant applies each request atomically, but not several: a failure stops at the batch that failed.
    for (const batch of upsertBatches(points, collection.dimension)) {
      await this.#call(
        `upsert into Qdrant collection ${collection.qdrantName}`,
        () => this.#client.upsert(collection.qdrantName, { wait: true, points: batch }),
        collection,
      )
    }
  }

  protected async searchRecords(collection: QdrantCollection, query: StoreQuery): Promise<VectorMatch[]> {
    const filter = this.#where(query.filter)
    const withVector = query.includeVectors ? [DENSE_VECTOR] : false
    const vectorSearch = (
      limit: number,
      withPayload: Schemas['WithPayloadInterface'],
    ): Schemas['QueryRequest'] => ({
      query: Array.from(query.vector as Float32Array),
      using: DENSE_VECTOR,
      filter,
      limit,
      with_payload: withPayload,
      with_vector: withPayload === true ? withVector : false,
      params:
        this.#settings.exactBelow > collection.points
          ? { exact: true }
          : { hnsw_ef: Math.max(this.#settings.efSearch, limit) },
    })
    if (query.mode === 'vector') {
      const found = await this.#query(collection, vectorSearch(query.topK, true))
      return this.#ranked(found, collection, query.includeVectors)
    }
    if (!collection.hybrid) {
      throw new StorageError(
        'UNSUPPORTED',
        `Collection "${collection.name}" was created without text search (hybrid: false), so ${query.mode} queries are not possible`,
      )
    }
    const sparse = textToSparseVector(query.text as string, 'query')
    const textSearch = (
      limit: number,
      withPayload: Schemas['WithPayloadInterface'],
    ): Schemas['QueryRequest'] => ({
      query: sparse,
      using: TEXT_VECTOR,
      filter,
      limit,
      with_payload: withPayload,
      with_vector: withPayload === true ? withVector : false,
    })
    if (query.mode === 'text') {
      if (sparse.indices.length === 0) return []
      return this.#ranked(
        await this.#query(collection, textSearch(query.topK, true)),
        collection,
        query.includeVectors,
      )
    }
    return this.#hybrid(collection, query, vectorSearch, sparse.indices.length === 0 ? undefined : textSearch)
  }

  /**
   * Hybrid search: both candidate lists come back in one `query/batch` request (ids only), are
   * fused here with core's `reciprocalRankFusion` and the query's `rrfK`, and the winners are
   * then fetched. Qdrant's own `fusion: rrf` would not do: its k is 2 by default and only an
   * integer, and it leaves the order of tied points undefined, so its scores could differ from
   * RRF over the store's own vector and text lists.
   */
  async #hybrid(
    collection: QdrantCollection,
    query: StoreQuery,
    vectorSearch: (limit: number, withPayload: Schemas['WithPayloadInterface']) => Schemas['QueryRequest'],
    textSearch:
      | ((limit: number, withPayload: Schemas['WithPayloadInterface']) => Schemas['QueryRequest'])
      | undefined,
  ): Promise<VectorMatch[]> {
    const limit = Math.max(this.#settings.hybridCandidates, query.topK)
    const idsOnly = { include: [PAYLOAD_KEYS.id] }
    const searches = [vectorSearch(limit, idsOnly), ...(textSearch ? [textSearch(limit, idsOnly)] : [])]
    const lists = await this.#call(
      `search Qdrant collection ${collection.qdrantName}`,
      () => this.#client.queryBatch(collection.qdrantName, { searches }),
      collection,
    )
    const ranked = lists.map((list) => this.#ranked(list.points, collection, false))
    const fused = reciprocalRankFusion(ranked, { k: query.rrfK, limit: query.topK })
    if (fused.length === 0) return []
    const points = await this.#call(
      `read from Qdrant collection ${collection.qdrantName}`,
      () =>
        this.#client.retrieve(collection.qdrantName, {
          ids: fused.map(({ id }) => qdrantPointId(id, this.#tenant)),
          with_payload: true,
          with_vector: query.includeVectors ? [DENSE_VECTOR] : false,
        }),
      collection,
    )
    const byId = new Map(points.map((point) => [engramId(point), point]))
    return fused.flatMap(({ id, score }) => {
      const point = byId.get(id)
      return point ? [toMatch(point, score, collection, query.includeVectors)] : []
    })
  }

  protected async getRecords(collection: QdrantCollection, ids: string[]): Promise<VectorRecord[]> {
    const out: VectorRecord[] = []
    for (let start = 0; start < ids.length; start += ID_CHUNK) {
      const chunk = ids.slice(start, start + ID_CHUNK)
      const points = await this.#call(
        `read from Qdrant collection ${collection.qdrantName}`,
        () =>
          this.#client.retrieve(collection.qdrantName, {
            ids: chunk.map((id) => qdrantPointId(id, this.#tenant)),
            with_payload: true,
            with_vector: [DENSE_VECTOR],
          }),
        collection,
      )
      for (const point of points) {
        // Point ids already differ per tenant; the payload check keeps that true whatever wrote the point.
        const payload = (point.payload ?? {}) as Record<string, unknown>
        if (payload[PAYLOAD_KEYS.tenant] === this.#tenant) out.push(toRecord(point, collection))
      }
    }
    return out
  }

  protected async deleteRecords(collection: QdrantCollection, target: StoreDeleteTarget): Promise<number> {
    if ('filter' in target) return this.#deleteWhere(collection, this.#where(target.filter))
    let removed = 0
    for (let start = 0; start < target.ids.length; start += ID_CHUNK) {
      const ids = target.ids.slice(start, start + ID_CHUNK).map((id) => qdrantPointId(id, this.#tenant))
      removed += await this.#deleteWhere(collection, { must: [this.#tenantCondition(), { has_id: ids }] })
    }
    return removed
  }

  /**
   * Qdrant's delete does not say how many points it removed, so the store counts them exactly
   * first, in the same filter. A concurrent writer between the two requests can make the count
   * differ from what the delete removed.
   */
  async #deleteWhere(collection: QdrantCollection, filter: Filter): Promise<number> {
    const { count } = await this.#call(
      `count in Qdrant collection ${collection.qdrantName}`,
      () => this.#client.count(collection.qdrantName, { filter, exact: true }),
      collection,
    )
    if (count === 0) return 0
    await this.#call(
      `delete from Qdrant collection ${collection.qdrantName}`,
      () => this.#client.delete(collection.qdrantName, { wait: true, filter }),
      collection,
    )
    return count
  }

  protected async countRecords(
    collection: QdrantCollection,
    filter: FilterNode | undefined,
  ): Promise<number> {
    const { count } = await this.#call(
      `count in Qdrant collection ${collection.qdrantName}`,
      () => this.#client.count(collection.qdrantName, { filter: this.#where(filter), exact: true }),
      collection,
    )
    return count
  }

  protected async *scanRecords(
    collection: QdrantCollection,
    options: StoreScanOptions,
  ): AsyncIterable<VectorRecord[]> {
    const filter = this.#where(options.filter)
    let offset: Schemas['ExtendedPointId'] | undefined
    do {
      const page = await this.#call(
        `scroll Qdrant collection ${collection.qdrantName}`,
        () =>
          this.#client.scroll(collection.qdrantName, {
            filter,
            limit: options.batchSize,
            with_payload: true,
            with_vector: [DENSE_VECTOR],
            ...(offset === undefined ? {} : { offset }),
          }),
        collection,
      )
      yield page.points.map((point) => toRecord(point, collection))
      const next = page.next_page_offset
      offset = typeof next === 'string' || typeof next === 'number' ? next : undefined
    } while (offset !== undefined)
  }

  protected async closeResources(): Promise<void> {
    // Nothing to release: the client has no close(), and its idle keep-alive sockets close on their own.
  }

  async #query(
    collection: QdrantCollection,
    request: Schemas['QueryRequest'],
  ): Promise<Schemas['ScoredPoint'][]> {
    const { points } = await this.#call(
      `search Qdrant collection ${collection.qdrantName}`,
      () => this.#client.query(collection.qdrantName, request),
      collection,
    )
    return points
  }

  /** Scored points as matches on engram's scale, best first; ties in id order, so equal lists always agree. */
  #ranked(
    points: Schemas['ScoredPoint'][],
    collection: QdrantCollection,
    withVector: boolean,
  ): VectorMatch[] {
    // Qdrant reports a Euclid score as the distance itself; engram's is its negative.
    const sign = collection.metric === 'euclidean' ? -1 : 1
    return points
      .map((point) => toMatch(point, sign * point.score, collection, withVector))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  #indexTenant(qdrantName: string): Promise<unknown> {
    return this.#call(`index the tenant field of ${qdrantName}`, () =>
      this.#client.createPayloadIndex(qdrantName, {
        wait: true,
        field_name: PAYLOAD_KEYS.tenant,
        field_schema: { type: 'keyword', is_tenant: true },
      }),
    )
  }

  #tenantCondition(): Condition {
    return { key: PAYLOAD_KEYS.tenant, match: { value: this.#tenant } }
  }

  /** The request filter: the tenant condition, and the caller's filter if any. */
  #where(node: FilterNode | undefined): Filter {
    if (node === undefined) return { must: [this.#tenantCondition()] }
    const filter = qdrantFilter(node, {
      metadataKey: PAYLOAD_KEYS.metadata,
      emptyFieldsKey: PAYLOAD_KEYS.emptyFields,
    })
    const must = filter.must === undefined || filter.must === null ? [] : [filter.must].flat()
    return { ...filter, must: [this.#tenantCondition(), ...(must as Condition[])] }
  }

  /**
   * Runs one client call: a 429 is tried again after a pause (Qdrant's `Retry-After`, or the
   * backoff doubling from `retryDelayMs`), and any failure becomes a `StorageError`. A 404 on a
   * collection the store just found means it was dropped meanwhile: `NOT_FOUND` for that name.
   */
  async #call<T>(action: string, run: () => Promise<T>, collection?: QdrantCollection): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run()
      } catch (error) {
        if (isRateLimited(error) && attempt < this.#settings.maxRetries) {
          await pause(retryAfterMs(error) ?? this.#settings.retryDelayMs * 2 ** attempt)
          continue
        }
        if (collection !== undefined && isNotFound(error)) {
          throw new StorageError('NOT_FOUND', collectionNotFound(collection.name).message, { cause: error })
        }
        const failure = qdrantError(error, action, this.#settings.url)
        if (failure.code === 'BUSY') {
          throw new StorageError('BUSY', `${failure.message} (after ${attempt} retries)`, { cause: error })
        }
        throw failure
      }
    }
  }
}

function isCollectionName(name: string): boolean {
  try {
    validateCollectionName(name)
    return true
  } catch {
    return false
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
