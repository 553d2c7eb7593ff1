import {
  type CollectionSpec,
  FILTER_OPERATORS,
  type FilterNode,
  isStorageError,
  type StorageAdapter,
  StorageError,
  type StoreDeleteTarget,
  type StoreQuery,
  type StoreScanOptions,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorRecord,
  type VectorStore,
  VectorStoreBase,
} from '@engram/core'
import {
  type PgVectorSettings,
  type PgVectorStoreConfig,
  resolvePgVectorSettings,
} from './pg-vector-config.js'
import { PgHnswIndex, type PgIndexStatus } from './pg-vector-index.js'
import {
  countRows,
  deleteRows,
  deleteTenantRows,
  getRows,
  scanPage,
  upsertRows,
} from './pg-vector-records.js'
import { type PgCollection, PgVectorRegistry } from './pg-vector-registry.js'
import { withTenant } from './pg-vector-row-security.js'
import { toRecord } from './pg-vector-rows.js'
import { type PgSearchParts, searchCollection } from './pg-vector-search.js'
import { PgTextQuery } from './pg-vector-text-query.js'
import { createPostgresAdapter } from './postgres-adapter.js'

/**
 * A `VectorStore` on PostgreSQL with pgvector. A collection's HNSW index is built once it is
 * needed: by the first search that takes the HNSW path (or, with `buildIndexInBackground`, in the
 * background from that search on), or by `buildIndex`.
 */
export interface PgVectorStore extends VectorStore {
  /**
   * Builds the collection's HNSW index now if it does not exist yet (idempotent, safe to race),
   * after waiting for a background build a search started. Call it after a bulk ingest so the
   * first search does not pay for the build (or, in the background, search exactly). Needs the
   * table's owner. A collection above 4,000 dimensions has no HNSW index. On a collection made
   * by an earlier version it also adds the repeated-words index text ranking uses (see docs/postgres.md).
   *
   * @example
   * for (const batch of batches) await store.upsert('docs', batch)
   * await store.buildIndex('docs')
   */
  buildIndex(collection: string): Promise<void>

  /**
   * Where the collection's HNSW index stands: whether it exists, whether this store is building
   * it in the background, and why its last background build failed, if one did.
   *
   * @example
   * const { present, building, error } = await store.indexStatus('docs')
   */
  indexStatus(collection: string): Promise<PgIndexStatus>
}

/** pgvector stores `vector` columns of up to 16,000 dimensions. */
const MAX_DIMENSION = 16_000

const CAPABILITIES: VectorCapabilities = Object.freeze({
  hybrid: true,
  operators: FILTER_OPERATORS,
  metrics: Object.freeze(['cosine', 'dot', 'euclidean'] as const),
  maxDimension: MAX_DIMENSION,
  exact: false,
})

/**
 * Opens a `VectorStore` on PostgreSQL with pgvector: one table per collection with an HNSW
 * index (built on first need, see `buildIndex`), JSONB metadata with a GIN index, and a
 * generated tsvector for text and hybrid search.
 *
 * @example
 * const store = createPgVectorStore({ connectionString: 'postgres://app@localhost/app', tenant: 'acme' })
 */
export function createPgVectorStore(config: PgVectorStoreConfig): PgVectorStore {
  return new PgVectorStoreImpl(config)
}

/**
 * Core's skeleton checks every argument; this class only wires the parts: the registry and its
 * DDL, row-level security, the HNSW index, the text query, search and the record statements.
 */
class PgVectorStoreImpl extends VectorStoreBase<PgCollection> implements PgVectorStore {
  readonly kind = 'pgvector'
  readonly capabilities = CAPABILITIES
  readonly #db: StorageAdapter
  /** Whether `#db` was opened from `connectionString`, so `close()` ends it. */
  readonly #ownsAdapter: boolean
  readonly #settings: PgVectorSettings
  readonly #registry: PgVectorRegistry
  readonly #index: PgHnswIndex
  readonly #search: PgSearchParts

  constructor(config: PgVectorStoreConfig) {
    super()
    if (typeof config !== 'object' || config === null) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'createPgVectorStore needs { adapter } or { connectionString }',
      )
    }
    const settings = resolvePgVectorSettings(config)
    this.#settings = settings
    this.#ownsAdapter = config.adapter === undefined
    this.#db = config.adapter === undefined ? openAdapter(config.connectionString) : checkAdapter(config)
    this.#registry = new PgVectorRegistry(this.#db, settings)
    this.#index = new PgHnswIndex(this.#registry, settings, this.#db)
    this.#search = { settings, index: this.#index, text: new PgTextQuery(this.#registry, settings) }
  }

  async buildIndex(collection: string): Promise<void> {
    await this.onCollection(collection, async (target) => {
      await this.#index.settled(target.table)
      await this.#index.build(target)
      await this.#search.text.build(target)
    })
  }

  async indexStatus(collection: string): Promise<PgIndexStatus> {
    return this.onCollection(collection, (target) => this.#index.status(target))
  }

  protected override setUp(): Promise<void> {
    return this.#registry.setUp()
  }

  protected findCollection(name: string): Promise<PgCollection | undefined> {
    return this.#registry.find(this.#db, name)
  }

  /**
   * Without row-level security an operation uses the collection as this store last read it, so it
   * costs no registry round trip. Should the collection have been dropped or recreated elsewhere,
   * its statement fails (the old table is gone, or a record no longer fits the old dimension): the
   * store then reads the registry again and, when the collection changed, runs the operation once
   * more on the current one (or fails with NOT_FOUND when it is gone). Under row-level security
   * an operation runs in one transaction whose first statement both sets `app.tenant_id` and reads
   * the registry, so there the lookup is free and always current.
   */
  protected override async withCollection<T>(
    name: string,
    fn: (collection: PgCollection | undefined) => Promise<T>,
  ): Promise<T> {
    const { rowLevelSecurity, tenant } = this.#settings
    if (rowLevelSecurity) {
      return this.#db.transaction(async (tx) => fn(await this.#registry.find(tx, name, tenant)))
    }
    const cached = this.#registry.cached(this.#db, name)
    if (cached === undefined) return fn(await this.#registry.find(this.#db, name))
    try {
      return await fn(cached)
    } catch (error) {
      if (!mayBeStale(error)) throw error
      const current = await this.#registry.find(this.#db, name)
      if (current?.id === cached.id) throw error
      return fn(current)
    }
  }

  protected addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    return this.#registry.add(name, spec)
  }

  protected async removeCollection(name: string): Promise<void> {
    const { tenant } = this.#settings
    if (tenant === '') return this.#registry.drop(name)
    // A collection is shared by every tenant: a tenant-scoped store removes only its own records.
    await this.withCollection(name, async (collection) => {
      if (collection !== undefined) await deleteTenantRows(collection, tenant)
    })
  }

  protected collectionNames(): Promise<string[]> {
    return this.#registry.names()
  }

  protected upsertRecords(collection: PgCollection, records: ValidRecord[]): Promise<void> {
    return upsertRows(collection, this.#settings.tenant, records)
  }

  protected searchRecords(collection: PgCollection, query: StoreQuery): Promise<VectorMatch[]> {
    return searchCollection(collection, query, this.#search)
  }

  protected getRecords(collection: PgCollection, ids: string[]): Promise<VectorRecord[]> {
    return getRows(collection, this.#settings.tenant, ids)
  }

  protected deleteRecords(collection: PgCollection, target: StoreDeleteTarget): Promise<number> {
    return deleteRows(collection, this.#settings.tenant, target)
  }

  protected countRecords(collection: PgCollection, filter: FilterNode | undefined): Promise<number> {
    return countRows(collection, this.#settings.tenant, filter)
  }

  /**
   * Each page is its own operation on the adapter (under row-level security its own short
   * transaction), so no transaction stays open while the caller holds a page.
   */
  protected async *scanRecords(
    collection: PgCollection,
    options: StoreScanOptions,
  ): AsyncIterable<VectorRecord[]> {
    const { tenant, rowLevelSecurity } = this.#settings
    const limit = options.batchSize
    let after = '' // ids are non-empty, and '' sorts first under COLLATE "C"
    while (true) {
      const page = { tenant, after, limit, filter: options.filter }
      const rows = await withTenant(this.#db, tenant, rowLevelSecurity, (db) =>
        scanPage(db, collection, page),
      )
      if (rows.length > 0) yield rows.map(toRecord)
      if (rows.length < limit) return
      after = rows[rows.length - 1]?.id as string
    }
  }

  protected async closeResources(): Promise<void> {
    await this.#index.settleAll()
    if (this.#ownsAdapter) await this.#db.close()
  }
}

/**
 * Whether an error may come from using a collection that was dropped or recreated elsewhere: a
 * missing table (SQLSTATE 42P01 is NOT_FOUND) or a record or query checked against the old dimension.
 */
function mayBeStale(error: unknown): boolean {
  return isStorageError(error, 'NOT_FOUND') || isStorageError(error, 'DIMENSION_MISMATCH')
}

function openAdapter(connectionString: string | undefined): StorageAdapter {
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createPgVectorStore needs { adapter } (a Postgres StorageAdapter) or { connectionString } (a postgres:// URL)',
    )
  }
  return createPostgresAdapter({ connectionString })
}

function checkAdapter(config: PgVectorStoreConfig): StorageAdapter {
  const { adapter, connectionString } = config
  if (connectionString !== undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createPgVectorStore takes { adapter } or { connectionString }, not both: drop one of them',
    )
  }
  if (adapter?.dialect !== 'postgres') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `PgVectorStore needs a Postgres adapter, got a ${String(adapter?.dialect)} one`,
    )
  }
  return adapter
}
