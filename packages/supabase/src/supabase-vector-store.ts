import {
  type CollectionSpec,
  FILTER_OPERATORS,
  type FilterNode,
  HNSW_DEFAULTS,
  isStorageError,
  type Metadata,
  StorageError,
  type StoreDeleteTarget,
  type StoredCollection,
  type StoreQuery,
  type StoreScanOptions,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorRecord,
  type VectorStore,
  VectorStoreBase,
  validateTenant,
} from '@engram/core'
import { createSupabaseClient } from './supabase-client.js'
import { SUPABASE_MIGRATION_VERSION } from './supabase-migration.js'
import { callRpc, type SupabaseRpcClient } from './supabase-rpc.js'

/** Options for `createSupabaseVectorStore`. Give `client`, or `url` and `key`. */
export interface SupabaseVectorStoreConfig {
  /** A supabase-js client (`createClient(...)`); the store never closes it. Its key and session decide whose records the store sees. */
  client?: SupabaseRpcClient
  /** The project URL, when the store should make its own client (with the `ws` transport Node 20 needs). */
  url?: string
  /** The API key for the store's own client: the service role key on a server, or the anon key with `accessToken`. */
  key?: string
  /** A signed-in user's access token for the store's own client; row-level security then shows only that user's records. Default is none. */
  accessToken?: string
  /** The schema the migration put the functions in; it must be exposed by the API. Default is `'public'`. */
  schema?: string
  /**
   * A Supabase user id (UUID): a service-role store then reads and writes only that user's
   * records, and new records belong to that user, exactly as if the user called. Default is
   * none: the service role sees every record, and records it adds belong to no user.
   */
  tenant?: string
  /**
   * Records (visible to the caller) below which vector search is exact; at or above it, the HNSW
   * index, which the service role's upserts build once the collection reaches this size. Default is `10000`.
   */
  exactBelow?: number
  /** HNSW graph degree for new collections. Default is `16`. */
  m?: number
  /** HNSW candidate list size while building, for new collections. Default is `128`. */
  efConstruction?: number
  /** HNSW candidate list size while searching (at least topK, at most 1,000). Default is `64`. */
  efSearch?: number
  /** On an HNSW search, how many nearest records hybrid fusion ranks (at least topK). Default is `200`. */
  hybridCandidates?: number
}

/** A `VectorStore` on Supabase. */
export interface SupabaseVectorStore extends VectorStore {
  /**
   * Builds the collection's HNSW index now if it does not exist yet (idempotent, safe to race;
   * service role only, `UNSUPPORTED` for a user). A service-role store builds it by itself after
   * the upsert that brings the collection to `exactBelow` records; call this after users (whose
   * upserts never build it) have loaded a collection. Until it exists, search is exact.
   *
   * @example
   * await store.buildIndex('docs')
   */
  buildIndex(collection: string): Promise<void>
}

/** A collection as the registry describes it. */
type SupabaseCollection = StoredCollection

/** pgvector's `vector` columns hold up to 16,000 dimensions (HNSW indexes up to 2,000; larger ones are searched exactly). */
const MAX_DIMENSION = 16_000
/** The largest dimension pgvector's HNSW index takes on a `vector` column. */
const MAX_INDEXED_DIMENSION = 2_000
/** Upsert requests are cut at about this many bytes of JSON, well inside API gateway limits and statement timeouts. */
const REQUEST_BYTES = 1_000_000
/** Ids per get or delete request. */
const IDS_PER_REQUEST = 5_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const CAPABILITIES: VectorCapabilities = Object.freeze({
  hybrid: true,
  operators: FILTER_OPERATORS,
  metrics: Object.freeze(['cosine', 'dot', 'euclidean'] as const),
  maxDimension: MAX_DIMENSION,
  exact: false,
  maxTopK: 10_000,
  stringRanges: true,
})

/**
 * Opens a `VectorStore` on Supabase through supabase-js: every operation is one call (a few for
 * large batches) to the SQL functions of engram's migration, so PostgreSQL's row-level security
 * applies to the key or user token the client carries. Collections are shared by every user;
 * a record belongs to the user who wrote it.
 *
 * @example
 * const store = createSupabaseVectorStore({ url: process.env.SUPABASE_URL!, key: process.env.SUPABASE_SERVICE_ROLE_KEY! })
 * const mine = createSupabaseVectorStore({ client: supabase }) // a browser or server client with the user's session
 */
export function createSupabaseVectorStore(config: SupabaseVectorStoreConfig): SupabaseVectorStore {
  return new SupabaseVectorStoreImpl(config)
}

function integer(
  value: number | undefined,
  fallback: number,
  name: string,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    )
  }
  return value
}

/** The shortest decimal that reads back as the same 32-bit float, so vectors travel as compact JSON. */
function shortFloat(x: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(x.toPrecision(digits))
    if (Math.fround(candidate) === x) return candidate
  }
  return Number(x.toPrecision(9))
}

function vectorJson(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length)
  for (let i = 0; i < vector.length; i++) out[i] = shortFloat(vector[i] as number)
  return out
}

/** A record as the store sends it. */
interface RecordJson {
  id: string
  vector: number[]
  metadata?: Metadata
  text?: string
}

/** A record as the functions return it: absent parts are `null`. */
interface StoredJson {
  id: string
  vector: number[]
  metadata: Metadata | null
  text: string | null
}

interface MatchJson extends Omit<StoredJson, 'vector'> {
  score: number
  vector: number[] | null
}

function toRecord(row: StoredJson): VectorRecord {
  const record: VectorRecord = { id: row.id, vector: Float32Array.from(row.vector) }
  if (row.metadata !== null && row.metadata !== undefined) record.metadata = row.metadata
  if (row.text !== null && row.text !== undefined) record.text = row.text
  return record
}

function toMatch(row: MatchJson): VectorMatch {
  const match: VectorMatch = { id: row.id, score: Number(row.score) }
  if (row.metadata !== null && row.metadata !== undefined) match.metadata = row.metadata
  if (row.text !== null && row.text !== undefined) match.text = row.text
  if (row.vector !== null && row.vector !== undefined) match.vector = Float32Array.from(row.vector)
  return match
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size))
  return out
}

class SupabaseVectorStoreImpl extends VectorStoreBase<SupabaseCollection> implements SupabaseVectorStore {
  readonly kind = 'supabase'
  readonly capabilities = CAPABILITIES
  readonly #client: SupabaseRpcClient
  readonly #owned: boolean
  readonly #schema: string
  readonly #owner: string | undefined
  readonly #exactBelow: number
  readonly #m: number
  readonly #efConstruction: number
  readonly #efSearch: number
  readonly #hybridCandidates: number
  /** Collections seen, so an operation is one call; a stale entry is dropped and the call retried. */
  readonly #known = new Map<string, SupabaseCollection>()
  /** Collections known to have their HNSW index, so upserts stop asking. */
  readonly #indexed = new Set<string>()

  constructor(config: SupabaseVectorStoreConfig) {
    super()
    if (typeof config !== 'object' || config === null) {
      throw new StorageError('INVALID_ARGUMENT', 'createSupabaseVectorStore needs { client } or { url, key }')
    }
    if (config.client !== undefined) {
      if (config.url !== undefined || config.key !== undefined || config.accessToken !== undefined) {
        throw new StorageError(
          'INVALID_ARGUMENT',
          'Give either client, or url and key (and accessToken), not both',
        )
      }
      if (typeof config.client?.schema !== 'function') {
        throw new StorageError(
          'INVALID_ARGUMENT',
          'client must be a supabase-js client (createClient from @supabase/supabase-js)',
        )
      }
      this.#client = config.client
      this.#owned = false
    } else {
      const options = { url: config.url as string, key: config.key as string }
      this.#client = createSupabaseClient(
        config.accessToken === undefined ? options : { ...options, accessToken: config.accessToken },
      )
      this.#owned = true
    }
    const schema = config.schema ?? 'public'
    if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `schema must be a lowercase schema name, got ${JSON.stringify(schema)}`,
      )
    }
    this.#schema = schema
    const tenant = config.tenant === undefined ? '' : validateTenant(config.tenant)
    if (tenant !== '' && !UUID.test(tenant)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `tenant is a Supabase user id (a UUID, as auth.uid() returns), got ${JSON.stringify(tenant)}`,
      )
    }
    this.#owner = tenant === '' ? undefined : tenant.toLowerCase()
    this.#exactBelow = integer(config.exactBelow, 10_000, 'exactBelow', 0, 2_147_483_647)
    this.#m = integer(config.m, HNSW_DEFAULTS.m, 'm', 2, 100)
    this.#efConstruction = integer(
      config.efConstruction,
      HNSW_DEFAULTS.efConstruction,
      'efConstruction',
      4,
      1000,
    )
    if (this.#efConstruction < 2 * this.#m) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `efConstruction must be at least twice m (${2 * this.#m}), got ${this.#efConstruction}`,
      )
    }
    this.#efSearch = integer(config.efSearch, HNSW_DEFAULTS.efSearch, 'efSearch', 1, 1000)
    this.#hybridCandidates = integer(config.hybridCandidates, 200, 'hybridCandidates', 1, 100_000)
  }

  /** Calls one of the migration's functions, with the tenant as `owner` where the function takes one. */
  #call<T>(fn: string, args: Record<string, unknown>, scoped = true): Promise<T> {
    const withOwner = scoped && this.#owner !== undefined ? { ...args, owner: this.#owner } : args
    return callRpc<T>(this.#client, this.#schema, fn, withOwner)
  }

  protected override async setUp(): Promise<void> {
    const installed = await this.#call<number | null>('engram_version', {}, false)
    if (installed === null || installed === undefined) {
      throw new StorageError(
        'NOT_FOUND',
        `engram's migration has not recorded a version in this project; apply it (applySupabaseMigration, or SUPABASE_MIGRATION_SQL in the SQL editor)`,
      )
    }
    if (installed < SUPABASE_MIGRATION_VERSION) {
      throw new StorageError(
        'UNSUPPORTED',
        `The engram functions in schema ${this.#schema} are version ${installed}; this @engram/supabase needs version ${SUPABASE_MIGRATION_VERSION}: apply the migration again (applySupabaseMigration, or SUPABASE_MIGRATION_SQL)`,
      )
    }
  }

  protected async findCollection(name: string): Promise<SupabaseCollection | undefined> {
    const found = await this.#call<SupabaseCollection | null>('engram_describe_collection', {
      collection: name,
      include_count: false,
    })
    if (found === null || found === undefined) {
      this.#known.delete(name)
      return undefined
    }
    const collection = { name, dimension: found.dimension, metric: found.metric }
    this.#known.set(name, collection)
    return collection
  }

  /**
   * Uses the remembered collection when there is one, so most operations are a single call.
   * If it was dropped or recreated elsewhere, the server says NOT_FOUND or DIMENSION_MISMATCH
   * (nothing was changed): forget it and run the operation once more on a fresh lookup.
   */
  protected override async withCollection<T>(
    name: string,
    fn: (collection: SupabaseCollection | undefined) => Promise<T>,
  ): Promise<T> {
    const known = this.#known.get(name)
    if (known === undefined) return fn(await this.findCollection(name))
    try {
      return await fn(known)
    } catch (error) {
      if (!isStorageError(error, 'NOT_FOUND') && !isStorageError(error, 'DIMENSION_MISMATCH')) throw error
      this.#known.delete(name)
      return fn(await this.findCollection(name))
    }
  }

  protected async addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    const created = await this.#call<SupabaseCollection>(
      'engram_create_collection',
      {
        collection: name,
        dimension: spec.dimension,
        metric: spec.metric,
        m: this.#m,
        ef_construction: this.#efConstruction,
      },
      false,
    )
    this.#known.set(name, { name, dimension: created.dimension, metric: created.metric })
  }

  protected async removeCollection(name: string): Promise<void> {
    this.#known.delete(name)
    this.#indexed.delete(name)
    await this.#call<null>('engram_drop_collection', { collection: name })
  }

  protected collectionNames(): Promise<string[]> {
    return this.#call<string[]>('engram_list_collections', {}, false)
  }

  async buildIndex(collection: string): Promise<void> {
    await this.onCollection(collection, async (found) => {
      if (await this.#call<boolean>('engram_build_index', { collection: found.name }, false)) {
        this.#indexed.add(found.name)
      }
    })
  }

  protected async upsertRecords(collection: SupabaseCollection, records: ValidRecord[]): Promise<void> {
    let batch: RecordJson[] = []
    let bytes = 0
    const send = async () => {
      if (batch.length === 0) return
      await this.#call<number>('engram_upsert', { collection: collection.name, records: batch })
      batch = []
      bytes = 0
    }
    for (const record of records) {
      const row: RecordJson = { id: record.id, vector: vectorJson(record.vector) }
      if (record.metadata !== undefined) row.metadata = record.metadata
      if (record.text !== undefined) row.text = record.text
      const size = JSON.stringify(row).length
      if (bytes + size > REQUEST_BYTES) await send()
      batch.push(row)
      bytes += size
    }
    await send()
    // After the load, not during it: an index kept up to date row by row makes bulk loads many
    // times slower. A call of its own, because the build may take longer than an upsert may.
    if (collection.dimension <= MAX_INDEXED_DIMENSION && !this.#indexed.has(collection.name)) {
      const args = { collection: collection.name, min_records: this.#exactBelow, if_allowed: true }
      if (await this.#call<boolean>('engram_build_index', args, false)) this.#indexed.add(collection.name)
    }
  }

  protected async searchRecords(collection: SupabaseCollection, query: StoreQuery): Promise<VectorMatch[]> {
    const args: Record<string, unknown> = {
      collection: collection.name,
      mode: query.mode,
      top_k: query.topK,
      rrf_k: query.rrfK,
      include_vectors: query.includeVectors,
      exact_below: this.#exactBelow,
      ef_search: this.#efSearch,
      hybrid_candidates: this.#hybridCandidates,
    }
    if (query.vector !== undefined) args.query_vector = vectorJson(query.vector)
    if (query.text !== undefined) args.query_text = query.text
    if (query.filter !== undefined) args.filter = query.filter
    const rows = await this.#call<MatchJson[]>('engram_query', args)
    return rows.map(toMatch)
  }

  protected async getRecords(collection: SupabaseCollection, ids: string[]): Promise<VectorRecord[]> {
    const found: VectorRecord[] = []
    for (const part of chunks(ids, IDS_PER_REQUEST)) {
      const rows = await this.#call<StoredJson[]>('engram_get', { collection: collection.name, ids: part })
      for (const row of rows) found.push(toRecord(row))
    }
    return found
  }

  protected async deleteRecords(collection: SupabaseCollection, target: StoreDeleteTarget): Promise<number> {
    if ('filter' in target) {
      return this.#call<number>('engram_delete', { collection: collection.name, filter: target.filter })
    }
    let removed = 0
    for (const part of chunks(target.ids, IDS_PER_REQUEST)) {
      removed += await this.#call<number>('engram_delete', { collection: collection.name, ids: part })
    }
    return removed
  }

  protected async countRecords(
    collection: SupabaseCollection,
    filter: FilterNode | undefined,
  ): Promise<number> {
    const args: Record<string, unknown> = { collection: collection.name }
    if (filter !== undefined) args.filter = filter
    return Number(await this.#call<number>('engram_count', args))
  }

  protected async *scanRecords(
    collection: SupabaseCollection,
    options: StoreScanOptions,
  ): AsyncIterable<VectorRecord[]> {
    let after: string | undefined
    while (true) {
      const args: Record<string, unknown> = { collection: collection.name, batch_size: options.batchSize }
      if (after !== undefined) args.after_id = after
      if (options.filter !== undefined) args.filter = options.filter
      // Keyset pages by id: each page is its own call, so nothing stays open while the caller holds one.
      const rows = await this.#call<StoredJson[]>('engram_scan', args)
      if (rows.length > 0) yield rows.map(toRecord)
      if (rows.length < options.batchSize) return
      after = rows[rows.length - 1]?.id
    }
  }

  protected async closeResources(): Promise<void> {
    this.#known.clear()
    if (this.#owned)
      await (this.#client as unknown as { removeAllChannels(): Promise<unknown> }).removeAllChannels()
  }
}
