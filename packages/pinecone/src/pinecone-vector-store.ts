import {
  booleanOption,
  type CollectionInfo,
  type CollectionSpec,
  FILTER_OPERATORS,
  type FilterNode,
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
  validateTenant,
} from '@engram/core'
import { Pinecone, type PineconeRecord, type RecordMetadata } from '@pinecone-database/pinecone'
import { deleteChunks, upsertBatches } from './pinecone-batches.js'
import { callPinecone, isNotFound, type RateLimitPolicy } from './pinecone-errors.js'
import { pineconeFilter, type TranslatedFilter } from './pinecone-filter.js'
import {
  checkNamespacePrefix,
  DEFAULT_NAMESPACE_PREFIX,
  type NamespaceScheme,
  namespaceScheme,
} from './pinecone-namespaces.js'
import {
  emptyIfMissing,
  fetchRecords,
  listIds,
  matchingRecords,
  namespacesWithPrefix,
  type PageSource,
} from './pinecone-pages.js'
import {
  decodeMetadata,
  decodeRecord,
  encodeRecord,
  mapIds,
  toCollectionVector,
  toQueryValues,
  type VectorLayout,
} from './pinecone-record.js'
import { describeTarget, type IndexTarget } from './pinecone-target.js'

/** Options for `createPineconeVectorStore`. Give `indexName` or `indexHost` (or both). */
export interface PineconeVectorStoreConfig {
  /** The project's API key. Default is the `PINECONE_API_KEY` environment variable; not used with `client`. */
  apiKey?: string
  /** The index to use; the store reads its dimension, metric and host with `describeIndex`. */
  indexName?: string
  /**
   * The index's host (the console and `describeIndex` show it). With `indexName` it skips the
   * host lookup; alone it skips the control plane, and the metric cannot be checked.
   */
  indexHost?: string
  /** A configured client to use instead of making one; the store never closes it. */
  client?: Pinecone
  /** The control-plane URL. Default is Pinecone's (`https://api.pinecone.io`); not used with `client`. */
  controllerHostUrl?: string
  /** The client's retries after a server error (HTTP 5xx). Default is the client's `3`; not used with `client`. */
  maxRetries?: number
  /** Starts every namespace the store uses (`<prefix>:<collection>:<tenant>`). Default is `'engram'`. */
  namespacePrefix?: string
  /** Scopes the store to this tenant's namespaces: its records are invisible to other tenants. Default is none (`''`). */
  tenant?: string
  /** The index's metric (`'dot'` is Pinecone's `dotproduct`); checked against the index. Default is `'cosine'`. */
  metric?: VectorMetric
  /**
   * Lets `createCollection` accept a dimension below the index's: vectors are padded with zeros,
   * which leaves every score unchanged but costs the index's full dimension in storage and reads.
   * Default is `false` (a different dimension is `DIMENSION_MISMATCH`).
   */
  padSmallerDimensions?: boolean
  /** Retries after Pinecone's rate limit (HTTP 429) before failing with `BUSY`. Default is `5`. */
  rateLimitRetries?: number
  /** The first wait after a 429 in milliseconds, doubled on each retry up to 30 s. Default is `500`. */
  rateLimitBackoffMs?: number
}

/** A collection: its spec, its namespace for this store's tenant, and how its vectors sit in the index. */
interface PineconeCollection extends StoredCollection {
  readonly namespace: string
  readonly layout: VectorLayout
}

/** Pinecone's largest dense dimension. */
const MAX_DIMENSION = 20_000
const METRICS: readonly VectorMetric[] = ['cosine', 'dot', 'euclidean']

/**
 * Opens a `VectorStore` on one Pinecone index. Each collection is a namespace of the index (one
 * per tenant) and a registry namespace records each collection's dimension and metric. Text is
 * kept in metadata; there is no text search (`hybrid: false`).
 *
 * @example
 * const store = createPineconeVectorStore({ apiKey: process.env.PINECONE_API_KEY, indexName: 'memories' })
 */
export function createPineconeVectorStore(config: PineconeVectorStoreConfig): VectorStore {
  return new PineconeVectorStore(config)
}

class PineconeVectorStore extends VectorStoreBase<PineconeCollection> {
  readonly kind = 'pinecone'
  readonly capabilities: VectorCapabilities
  readonly #client: Pinecone
  readonly #indexName: string | undefined
  readonly #indexHost: string | undefined
  readonly #prefix: string
  readonly #tenant: string
  readonly #metric: VectorMetric
  readonly #pad: boolean
  readonly #policy: RateLimitPolicy
  /** Collections this store created or found, so its own writes never wait on a registry read. */
  readonly #known = new Map<string, PineconeCollection>()
  #target: IndexTarget | undefined
  #scheme: NamespaceScheme | undefined

  constructor(config: PineconeVectorStoreConfig) {
    super()
    if (typeof config !== 'object' || config === null) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'createPineconeVectorStore needs { apiKey, indexName } or { indexHost }',
      )
    }
    this.#indexName = optionalString(config.indexName, 'indexName')
    this.#indexHost = optionalString(config.indexHost, 'indexHost')
    if (this.#indexName === undefined && this.#indexHost === undefined) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'createPineconeVectorStore needs indexName or indexHost (see docs/pinecone.md)',
      )
    }
    this.#prefix = checkNamespacePrefix(config.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX)
    this.#tenant = validateTenant(config.tenant ?? '')
    this.#metric = config.metric ?? 'cosine'
    if (!METRICS.includes(this.#metric)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `metric must be one of ${METRICS.join(', ')}, got ${JSON.stringify(config.metric)}`,
      )
    }
    this.#pad = booleanOption(config.padSmallerDimensions, false, 'padSmallerDimensions')
    this.#policy = {
      retries: count(config.rateLimitRetries, 5, 'rateLimitRetries'),
      backoffMs: count(config.rateLimitBackoffMs, 500, 'rateLimitBackoffMs'),
    }
    this.#client = config.client ?? makeClient(config)
    this.capabilities = Object.freeze({
      hybrid: false,
      operators: FILTER_OPERATORS,
      metrics: Object.freeze([this.#metric]),
      maxDimension: MAX_DIMENSION,
      exact: false,
      stringRanges: false,
    })
  }

  override async describeCollection(name: string): Promise<CollectionInfo | undefined> {
    // Another store may have dropped it: describe always reads the registry.
    this.#known.delete(name)
    return super.describeCollection(name)
  }

  protected override async setUp(): Promise<void> {
    this.#scheme = await namespaceScheme(this.#prefix, this.#tenant)
    this.#target = await describeTarget(this.#client, {
      indexName: this.#indexName,
      indexHost: this.#indexHost,
      metric: this.#metric,
      policy: this.#policy,
    })
  }

  protected async findCollection(name: string): Promise<PineconeCollection | undefined> {
    const known = this.#known.get(name)
    if (known) return known
    const found = await this.#readRegistry(name)
    if (found) this.#known.set(name, found)
    return found
  }

  protected async addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    const existing = await this.#readRegistry(name)
    if (existing) {
      if (existing.dimension !== spec.dimension || existing.metric !== spec.metric)
        throw specMismatch(name, existing, spec)
      this.#known.set(name, existing)
      return
    }
    const target = this.#indexTarget()
    if (spec.dimension > target.dimension || (spec.dimension < target.dimension && !this.#pad)) {
      const fix =
        spec.dimension > target.dimension
          ? 'use an index with at least that many dimensions'
          : `create the collection with dimension ${target.dimension}, or set padSmallerDimensions: true to store it zero-padded`
      throw new StorageError(
        'DIMENSION_MISMATCH',
        `Pinecone index ${target.label} has ${target.dimension} dimensions, so collection "${name}" cannot have ${spec.dimension}: ${fix} (see docs/pinecone.md)`,
      )
    }
    const marker = new Array<number>(target.dimension).fill(0)
    marker[0] = 1 // Pinecone refuses all-zero vectors; the registry never answers queries anyway.
    await this.#call('registering the collection', () =>
      target.index.upsert({
        namespace: this.#names().registry,
        records: [{ id: name, values: marker, metadata: { dimension: spec.dimension, metric: spec.metric } }],
      }),
    )
    this.#known.set(name, this.#collection(name, spec.dimension, spec.metric))
  }

  protected async removeCollection(name: string): Promise<void> {
    this.#known.delete(name)
    const { index } = this.#indexTarget()
    const names = this.#names()
    if (this.#tenant !== '') {
      // Collections are shared by tenants: a tenant's store removes only its own records.
      await this.#deleteNamespace(names.collection(name))
      return
    }
    // Data first, registry last: an interrupted drop leaves an empty collection, never lost records.
    for await (const namespace of namespacesWithPrefix(this.#source(), names.collectionPrefix(name)))
      await this.#deleteNamespace(namespace)
    await this.#call('removing the collection from the registry', async () => {
      try {
        await index.deleteMany({ ids: [name], namespace: names.registry })
      } catch (error) {
        if (!isNotFound(error)) throw error
      }
    })
  }

  protected async collectionNames(): Promise<string[]> {
    const names: string[] = []
    for await (const page of listIds(this.#source(), this.#names().registry)) names.push(...page)
    return names
  }

  protected async upsertRecords(collection: PineconeCollection, records: ValidRecord[]): Promise<void> {
    // Every record is encoded and checked before the first request, so a bad one writes nothing.
    const encoded = await Promise.all(
      records.map((record, i) => encodeRecord(record, collection.layout, `records[${i}]`)),
    )
    const { index } = this.#indexTarget()
    for (const batch of upsertBatches(encoded, collection.namespace)) {
      await this.#call('upserting records', () =>
        index.upsert({ records: batch, namespace: collection.namespace }),
      )
    }
  }

  protected async searchRecords(collection: PineconeCollection, query: StoreQuery): Promise<VectorMatch[]> {
    const filter = this.#filter(query.filter)
    if (filter === false) return []
    const vector = query.vector as Float32Array
    // Cosine with an all-zero query is 0 for every record (core's rule); ask Pinecone which
    // records qualify with any non-zero probe and report 0, rather than trust its 0/0.
    const zeroCosine = collection.metric === 'cosine' && vector.every((x) => x === 0)
    const values = toQueryValues(vector, collection.layout)
    if (zeroCosine) values[0] = 1
    const { index } = this.#indexTarget()
    const response = await this.#call('querying', () =>
      emptyIfMissing(
        index.query({
          namespace: collection.namespace,
          vector: values,
          topK: query.topK,
          includeMetadata: true,
          includeValues: query.includeVectors,
          ...(filter === true ? {} : { filter }),
        }),
        { matches: [], namespace: collection.namespace },
      ),
    )
    return response.matches.map((hit) => {
      const decoded = decodeMetadata(hit.id, hit.metadata)
      const match: VectorMatch = {
        id: decoded.id,
        score: zeroCosine ? 0 : toScore(collection.metric, hit.score ?? 0),
      }
      if (decoded.metadata !== undefined) match.metadata = decoded.metadata
      if (decoded.text !== undefined) match.text = decoded.text
      if (query.includeVectors) match.vector = toCollectionVector(hit.values, collection.dimension)
      return match
    })
  }

  protected async getRecords(collection: PineconeCollection, ids: string[]): Promise<VectorRecord[]> {
    const found = await this.#fetch(collection, [...(await mapIds(ids)).keys()])
    return found.map((record) => decodeRecord(record, collection.dimension))
  }

  protected async deleteRecords(collection: PineconeCollection, target: StoreDeleteTarget): Promise<number> {
    // Pinecone's delete returns no count, so the store finds what exists first and deletes exactly that.
    const doomed =
      'ids' in target
        ? (await this.#fetch(collection, [...(await mapIds(target.ids)).keys()])).map((record) => record.id)
        : await this.#matchingIds(collection, target.filter)
    const { index } = this.#indexTarget()
    for (const ids of deleteChunks(doomed)) {
      await this.#call('deleting records', () => index.deleteMany({ ids, namespace: collection.namespace }))
    }
    return doomed.length
  }

  protected async countRecords(
    collection: PineconeCollection,
    filter: FilterNode | undefined,
  ): Promise<number> {
    if (filter !== undefined) return (await this.#matchingIds(collection, filter)).length
    const { index } = this.#indexTarget()
    return this.#call('counting records', async () => {
      try {
        return (await index.describeNamespace(collection.namespace)).recordCount ?? 0
      } catch (error) {
        if (isNotFound(error)) return 0 // the namespace appears with its first record
        throw error
      }
    })
  }

  protected async *scanRecords(
    collection: PineconeCollection,
    options: StoreScanOptions,
  ): AsyncIterable<VectorRecord[]> {
    const filter = this.#filter(options.filter)
    if (filter === false) return
    const pages =
      filter === true
        ? this.#listedPages(collection)
        : matchingRecords(this.#source(), collection.namespace, filter)
    let pending: VectorRecord[] = []
    for await (const page of pages) {
      pending.push(...page.map((record) => decodeRecord(record, collection.dimension)))
      while (pending.length >= options.batchSize) {
        yield pending.slice(0, options.batchSize)
        pending = pending.slice(options.batchSize)
      }
    }
    if (pending.length > 0) yield pending
  }

  protected async closeResources(): Promise<void> {
    // The client holds no connection of its own to release, and a given client stays the caller's.
    this.#known.clear()
  }

  /** Pages of whole records in id order: list the ids, then fetch them. */
  async *#listedPages(collection: PineconeCollection): AsyncIterable<PineconeRecord[]> {
    for await (const ids of listIds(this.#source(), collection.namespace)) {
      if (ids.length > 0) yield fetchRecords(this.#source(), collection.namespace, ids)
    }
  }

  /** The Pinecone ids of the records an engram filter selects. */
  async #matchingIds(collection: PineconeCollection, node: FilterNode): Promise<string[]> {
    const filter = this.#filter(node)
    const ids: string[] = []
    if (filter === true) {
      for await (const page of listIds(this.#source(), collection.namespace)) ids.push(...page)
    } else if (filter !== false) {
      for await (const page of matchingRecords(this.#source(), collection.namespace, filter)) {
        ids.push(...page.map((record) => record.id))
      }
    }
    return ids
  }

  /** Fetches records of a collection by Pinecone id; missing ids are left out. */
  #fetch(collection: PineconeCollection, ids: readonly string[]): Promise<PineconeRecord[]> {
    return fetchRecords(this.#source(), collection.namespace, ids)
  }

  async #deleteNamespace(namespace: string): Promise<void> {
    const { index } = this.#indexTarget()
    await this.#call('deleting a namespace', async () => {
      try {
        await index.deleteNamespace(namespace)
      } catch (error) {
        if (!isNotFound(error)) throw error // a collection without records has no namespace yet
      }
    })
  }

  /** The collection as the registry records it, or `undefined`. */
  async #readRegistry(name: string): Promise<PineconeCollection | undefined> {
    const { index } = this.#indexTarget()
    const response = await this.#call('reading the collection registry', () =>
      emptyIfMissing(index.fetch({ ids: [name], namespace: this.#names().registry }), {
        records: {},
        namespace: this.#names().registry,
      }),
    )
    // Own keys only: a collection named `constructor` must not find Object.prototype's.
    const record = Object.hasOwn(response.records, name) ? response.records[name] : undefined
    if (!record) return undefined
    const metadata: RecordMetadata = record.metadata ?? {}
    const { dimension, metric } = metadata
    if (typeof dimension !== 'number' || !METRICS.includes(metric as VectorMetric)) {
      throw new StorageError(
        'QUERY_FAILED',
        `The registry record of collection "${name}" in namespace ${this.#names().registry} is damaged; drop the collection and create it again`,
      )
    }
    return this.#collection(name, dimension, metric as VectorMetric)
  }

  #collection(name: string, dimension: number, metric: VectorMetric): PineconeCollection {
    return {
      name,
      dimension,
      metric,
      namespace: this.#names().collection(name),
      layout: { dimension, indexDimension: this.#indexTarget().dimension },
    }
  }

  #filter(node: FilterNode | undefined): TranslatedFilter {
    return node === undefined ? true : pineconeFilter(node)
  }

  #call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return callPinecone(what, this.#policy, call)
  }

  #source(): PageSource {
    return { index: this.#indexTarget().index, policy: this.#policy }
  }

  #indexTarget(): IndexTarget {
    return this.#target as IndexTarget
  }

  #names(): NamespaceScheme {
    return this.#scheme as NamespaceScheme
  }
}

/** Pinecone's score as engram's: euclidean comes back as the squared distance. */
function toScore(metric: VectorMetric, score: number): number {
  return metric === 'euclidean' ? -Math.sqrt(Math.max(0, score)) : score
}

function makeClient(config: PineconeVectorStoreConfig): Pinecone {
  const apiKey = config.apiKey ?? (typeof process === 'undefined' ? undefined : process.env.PINECONE_API_KEY)
  if (typeof apiKey !== 'string' || apiKey.length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createPineconeVectorStore needs apiKey (or the PINECONE_API_KEY environment variable), or a configured client',
    )
  }
  return new Pinecone({
    apiKey,
    ...(config.controllerHostUrl === undefined ? {} : { controllerHostUrl: config.controllerHostUrl }),
    ...(config.maxRetries === undefined ? {} : { maxRetries: count(config.maxRetries, 3, 'maxRetries') }),
  })
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a non-empty string`)
  }
  return value
}

function count(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0) {
    throw new StorageError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${value}`)
  }
  return value
}
