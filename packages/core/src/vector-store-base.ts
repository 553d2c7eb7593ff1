import { type Filter, type FilterNode, type ValidateFilterOptions, validateFilter } from './filter.js'
import { compareCodePoints } from './matches-filter.js'
import { StorageError } from './storage-error.js'
import type {
  CollectionInfo,
  CollectionSpec,
  DeleteTarget,
  VectorCapabilities,
  VectorMatch,
  VectorMetric,
  VectorQuery,
  VectorRecord,
  VectorStore,
} from './vector-store.js'
import {
  collectionNotFound,
  type ValidQuery,
  type ValidRecord,
  validateCollectionName,
  validateCollectionSpec,
  validateDeleteTarget,
  validateIds,
  validateQuery,
  validateRecords,
  validateScanOptions,
} from './vector-validation.js'

/** A collection as a store found it: its spec, plus whatever the store needs to reach it. */
export interface StoredCollection {
  /** The collection's name. */
  readonly name: string
  /** Number of dimensions. */
  readonly dimension: number
  /** Similarity measure. */
  readonly metric: VectorMetric
}

/** A query after validation: the filter is a checked tree and the mode is known. */
export interface StoreQuery extends Omit<ValidQuery, 'filter'> {
  /** The checked filter, if the query had one. */
  filter?: FilterNode
}

/** What `deleteRecords` removes: a checked, de-duplicated id list or a checked filter. */
export type StoreDeleteTarget = { ids: string[] } | { filter: FilterNode }

/** Scan options after validation. */
export interface StoreScanOptions {
  /** The checked filter, if any. */
  filter?: FilterNode
  /** Records per batch, from 1 to `MAX_SCAN_BATCH`. */
  batchSize: number
}

/**
 * What an operation does with the collection `withCollection` hands it: `query` only reads and
 * can check at its end that the collection did not change, `read` reads, `write` changes records
 * or the collection's state.
 */
export type CollectionUse = 'query' | 'read' | 'write'

/** The largest `topK` a store accepts unless its capabilities say otherwise. */
export const DEFAULT_MAX_TOP_K = 10_000

/**
 * The skeleton every `VectorStore` is built on. It owns the rules that must be the same on
 * every backend: collection names, ids (well-formed Unicode, no NUL), record checks (dimension,
 * finite values), the delete target (ids xor filter), scan batch sizes, topK bounds, filter
 * validation with depth and size limits, `UNSUPPORTED` for what the capabilities rule out,
 * lazy set-up that is retried after a failure, and the closed state. A store extends it and
 * only translates: each protected method receives arguments that are already valid.
 *
 * @example
 * class MyStore extends VectorStoreBase<MyCollection> {
 *   readonly kind = 'my-store'
 *   readonly capabilities = { hybrid: false, operators: FILTER_OPERATORS, metrics: ['cosine'], maxDimension: 4096, exact: true }
 *   protected async findCollection(name) { … }
 *   // …one protected method per operation
 * }
 */
export abstract class VectorStoreBase<C extends StoredCollection = StoredCollection> implements VectorStore {
  /** The backend's name. */
  abstract readonly kind: string
  /** What this store supports. */
  abstract readonly capabilities: VectorCapabilities
  #ready: Promise<void> | undefined
  #closed = false
  #closing: Promise<void> | undefined

  async createCollection(name: string, spec: CollectionSpec): Promise<void> {
    this.checkOpen()
    validateCollectionName(name)
    const wanted = validateCollectionSpec(spec, this.capabilities.maxDimension)
    if (!this.capabilities.metrics.includes(wanted.metric)) {
      throw new StorageError(
        'UNSUPPORTED',
        `The ${this.kind} store does not support the ${wanted.metric} metric; it supports ${this.capabilities.metrics.join(', ')}`,
      )
    }
    await this.#setUp()
    await this.addCollection(name, wanted)
  }

  async describeCollection(name: string): Promise<CollectionInfo | undefined> {
    this.checkOpen()
    validateCollectionName(name)
    await this.#setUp()
    return this.withCollection(
      name,
      async (collection) => {
        if (collection === undefined) return undefined
        const count = await this.countRecords(collection, undefined)
        return { name, dimension: collection.dimension, metric: collection.metric, count }
      },
      'read',
    )
  }

  async listCollections(): Promise<string[]> {
    this.checkOpen()
    await this.#setUp()
    return (await this.collectionNames()).sort(compareCodePoints)
  }

  async dropCollection(name: string): Promise<void> {
    this.checkOpen()
    validateCollectionName(name)
    await this.#setUp()
    await this.removeCollection(name)
  }

  async upsert(collection: string, records: readonly VectorRecord[]): Promise<void> {
    this.checkOpen()
    validateCollectionName(collection)
    if (!Array.isArray(records))
      throw new StorageError('INVALID_ARGUMENT', 'upsert() takes an array of records')
    await this.#setUp()
    await this.#withExisting(
      collection,
      async (target) => {
        const valid = validateRecords(records, target.dimension)
        if (valid.length > 0) await this.upsertRecords(target, valid)
      },
      'write',
    )
  }

  async query(collection: string, query: VectorQuery): Promise<VectorMatch[]> {
    this.checkOpen()
    validateCollectionName(collection)
    await this.#setUp()
    return this.#withExisting(
      collection,
      (target) => {
        // Checked against the collection inside: a store may hand over the collection as it last saw it.
        const valid = validateQuery(query, target.dimension, this.capabilities.maxTopK ?? DEFAULT_MAX_TOP_K)
        if (valid.mode !== 'vector' && !this.capabilities.hybrid) {
          throw new StorageError(
            'UNSUPPORTED',
            `The ${this.kind} store has no text search, so ${valid.mode} queries are not possible`,
          )
        }
        const { filter, ...rest } = valid
        const checked: StoreQuery = rest
        const node = this.#filter(filter)
        if (node !== undefined) checked.filter = node
        return this.searchRecords(target, checked)
      },
      'query',
    )
  }

  async get(collection: string, ids: readonly string[]): Promise<VectorRecord[]> {
    this.checkOpen()
    validateCollectionName(collection)
    const wanted = validateIds(ids)
    await this.#setUp()
    return this.#withExisting(
      collection,
      async (target) => {
        if (wanted.length === 0) return []
        const found = await this.getRecords(target, wanted)
        // Every store answers in the order the ids were asked for, each id once.
        const byId = new Map(found.map((record) => [record.id, record]))
        return wanted.flatMap((id) => {
          const record = byId.get(id)
          return record === undefined ? [] : [record]
        })
      },
      'read',
    )
  }

  async delete(collection: string, target: DeleteTarget): Promise<number> {
    this.checkOpen()
    validateCollectionName(collection)
    const where = validateDeleteTarget(target, this.#filterOptions())
    await this.#setUp()
    return this.#withExisting(
      collection,
      async (found) => {
        if ('ids' in where && where.ids.length === 0) return 0
        return this.deleteRecords(found, where)
      },
      'write',
    )
  }

  async count(collection: string, filter?: Filter): Promise<number> {
    this.checkOpen()
    validateCollectionName(collection)
    const node = this.#filter(filter)
    await this.#setUp()
    return this.#withExisting(collection, (target) => this.countRecords(target, node), 'read')
  }

  async *scan(
    collection: string,
    options: { filter?: Filter; batchSize?: number } = {},
  ): AsyncIterable<VectorRecord[]> {
    this.checkOpen()
    validateCollectionName(collection)
    const { batchSize, filter } = validateScanOptions(options)
    const checked: StoreScanOptions = { batchSize }
    const node = this.#filter(filter)
    if (node !== undefined) checked.filter = node
    await this.#setUp()
    // A scan spans many calls, so it never holds an operation-wide transaction (see `withCollection`).
    const target = await this.findCollection(collection)
    if (target === undefined) throw collectionNotFound(collection)
    for await (const batch of this.scanRecords(target, checked)) {
      this.checkOpen()
      if (batch.length > 0) yield batch
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#closing ??= this.closeResources()
    return this.#closing
  }

  /** Whether `close()` has been called. */
  protected get closed(): boolean {
    return this.#closed
  }

  /** Throws `CLOSED` once the store is closed. Extra public methods of a store call it first. */
  protected checkOpen(): void {
    if (this.#closed) {
      throw new StorageError('CLOSED', `The ${this.kind} vector store is closed; open a new one`)
    }
  }

  /**
   * Runs an operation of a store's own (beyond the contract) on an existing collection, with
   * the same checks as the contract's: open, a valid name, set-up done, `NOT_FOUND` otherwise.
   * `use` says what it does with the collection (default `write`, which assumes the most).
   */
  protected async onCollection<T>(
    name: string,
    fn: (collection: C) => Promise<T>,
    use: CollectionUse = 'write',
  ): Promise<T> {
    this.checkOpen()
    validateCollectionName(name)
    await this.#setUp()
    return this.#withExisting(name, fn, use)
  }

  /** One-time set-up (a registry table, a connectivity check). A failure is retried by the next call. Default does nothing. */
  protected setUp(): Promise<void> {
    return Promise.resolve()
  }

  /** The collection named `name`, or `undefined` when it does not exist. */
  protected abstract findCollection(name: string): Promise<C | undefined>

  /**
   * Runs `fn` with the collection named `name` (or `undefined`). A store that needs each
   * operation in one transaction (to set a tenant for row-level security) wraps it here.
   * Default looks the collection up with `findCollection`. `scan` does not come through here:
   * it looks the collection up with `findCollection`, and each page is the store's own call.
   * `use` says what the operation does with it, so a store can, for example, let a query use the
   * collection as it last read it and check at the query's end that it did not change.
   */
  protected async withCollection<T>(
    name: string,
    fn: (collection: C | undefined) => Promise<T>,
    _use: CollectionUse,
  ): Promise<T> {
    return fn(await this.findCollection(name))
  }

  /** Creates the collection; a no-op for the same spec, `specMismatch(...)` for a different one. */
  protected abstract addCollection(name: string, spec: Required<CollectionSpec>): Promise<void>

  /** Drops the collection and its records; a no-op when it does not exist. */
  protected abstract removeCollection(name: string): Promise<void>

  /** Every collection's name, in any order. */
  protected abstract collectionNames(): Promise<string[]>

  /** Inserts or replaces records (already checked, at least one, ids unique). All or nothing. */
  protected abstract upsertRecords(collection: C, records: ValidRecord[]): Promise<void>

  /** Searches; `query` is checked, and its mode is one the capabilities allow. Best match first. */
  protected abstract searchRecords(collection: C, query: StoreQuery): Promise<VectorMatch[]>

  /** The records with these ids (unique, at least one), in any order; missing ids are left out. */
  protected abstract getRecords(collection: C, ids: string[]): Promise<VectorRecord[]>

  /** Deletes by ids (unique, at least one) or by filter and returns how many records went. */
  protected abstract deleteRecords(collection: C, target: StoreDeleteTarget): Promise<number>

  /** Counts every record, or those matching `filter`. */
  protected abstract countRecords(collection: C, filter: FilterNode | undefined): Promise<number>

  /** Streams the records (or the matching ones) in batches of at most `batchSize`. */
  protected abstract scanRecords(collection: C, options: StoreScanOptions): AsyncIterable<VectorRecord[]>

  /** Releases what the store opened itself (never an adapter or client it was given). Called once. */
  protected abstract closeResources(): Promise<void>

  #setUp(): Promise<void> {
    this.#ready ??= this.setUp().catch((error: unknown) => {
      this.#ready = undefined // the next call tries again, for example once the server is reachable
      throw error
    })
    return this.#ready
  }

  #withExisting<T>(name: string, fn: (collection: C) => Promise<T>, use: CollectionUse): Promise<T> {
    return this.withCollection(
      name,
      async (collection) => {
        if (collection === undefined) throw collectionNotFound(name)
        return fn(collection)
      },
      use,
    )
  }

  #filterOptions(): ValidateFilterOptions {
    const { operators, stringRanges = true } = this.capabilities
    return { operators, stringRanges }
  }

  #filter(filter: Filter | undefined): FilterNode | undefined {
    if (filter === undefined) return undefined
    const node = validateFilter(filter, this.#filterOptions())
    // `{}` matches everything.
    return node.kind === 'and' && node.children.length === 0 ? undefined : node
  }
}
