import {
  type CollectionInfo,
  type CollectionSpec,
  collectionNotFound,
  type DeleteTarget,
  FILTER_OPERATORS,
  type Filter,
  type FilterNode,
  type Metadata,
  pruneCommonTerms,
  type Row,
  type SqlValue,
  type StorageAdapter,
  StorageError,
  specMismatch,
  type ValidQuery,
  type VectorCapabilities,
  type VectorMatch,
  type VectorMetric,
  type VectorQuery,
  type VectorRecord,
  type VectorStore,
  validateCollectionName,
  validateCollectionSpec,
  validateDeleteTarget,
  validateFilter,
  validateQuery,
  validateRecords,
  validateScanOptions,
} from '@engram/core'
import { pgFilter } from './pg-filter.js'
import { createPostgresAdapter } from './postgres-adapter.js'

/** Options for `createPgVectorStore`. Give `adapter` or `connectionString`. */
export interface PgVectorStoreConfig {
  /** A Postgres `StorageAdapter` to run on (for example `createPostgresAdapter(...)`); the store does not close it. */
  adapter?: StorageAdapter
  /** A `postgres://` URL; the store opens its own adapter and closes it on `close()`. */
  connectionString?: string
  /** The schema holding the registry and the collection tables; created if missing. Default is the adapter's current schema (the first on its search path). */
  schema?: string
  /**
   * Scopes every statement to this tenant: its records are invisible to other tenants and theirs
   * to it. Collections themselves are shared. Default is no tenant (the tenant `''`).
   */
  tenant?: string
  /**
   * Also enforce `tenant` inside PostgreSQL with row-level security: collection tables this store
   * creates (or `createCollection` meets) get `FORCE ROW LEVEL SECURITY` and a policy admitting only
   * rows whose `tenant_id` equals `current_setting('app.tenant_id')`, and each operation runs in one
   * transaction that sets `app.tenant_id` to the tenant first. The bound `tenant_id` conditions stay.
   * Connect as a role that is neither a superuser nor `BYPASSRLS`, or PostgreSQL ignores the policy;
   * every store on those tables then needs this option and a non-empty `tenant` too. Default is `false`.
   */
  rowLevelSecurity?: boolean
  /** HNSW graph degree. Default is `16` (pgvector's default). */
  m?: number
  /** HNSW candidate list size while building. Default is `64` (pgvector's default). */
  efConstruction?: number
  /** HNSW candidate list size while searching (`hnsw.ef_search`, at least topK). Default is `40`. */
  efSearch?: number
  /** Collections (per tenant) with fewer records than this are searched exactly instead of by HNSW. Default is `10000`. */
  exactBelow?: number
  /** On an HNSW search, how many nearest vectors hybrid fusion ranks (at least topK). Default is `200`. */
  hybridCandidates?: number
  /**
   * Records (per tenant) a collection needs before text and hybrid queries drop their very common
   * words (see `commonTermFraction`), so a question such as "what is the …" does not rank nearly
   * every record. Smaller collections always search every word. Default is `10000`.
   */
  termPruningThreshold?: number
  /**
   * On a collection at or above `termPruningThreshold`, a query word found in more than this
   * fraction of the tenant's records is left out of text search (the rarest word is always kept).
   * Default is `0.3`.
   */
  commonTermFraction?: number
  /** Run `CREATE EXTENSION IF NOT EXISTS vector` when pgvector is missing (needs the privilege). Default is `false`. */
  createExtension?: boolean
  /**
   * `maintenance_work_mem` for the HNSW index build, set for the build's transaction only, so the
   * graph is built in memory instead of spilling to disk. Default is `'256MB'`.
   */
  indexBuildMemory?: string
}

/**
 * A `VectorStore` on PostgreSQL with pgvector. A collection's HNSW index is built once it is
 * needed: by the first search that takes the HNSW path, or by `buildIndex`.
 */
export interface PgVectorStore extends VectorStore {
  /**
   * Builds the collection's HNSW index now if it does not exist yet (idempotent, safe to race).
   * Call it after a bulk ingest so the first search does not pay for the build. Needs the
   * table's owner. A collection above 4,000 dimensions has no index, so this does nothing.
   *
   * @example
   * for (const batch of batches) await store.upsert('docs', batch)
   * await store.buildIndex('docs')
   */
  buildIndex(collection: string): Promise<void>
}

/** A collection as the registry records it. */
interface Collection {
  readonly name: string
  /** The quoted, schema-qualified table name. */
  readonly table: string
  /** The table's own name, unquoted (as `pg_stats` lists it). */
  readonly relation: string
  readonly dimension: number
  readonly metric: VectorMetric
  /** Seen with at least `exactBelow` records for this tenant, so HNSW is used. */
  large: boolean
  /** Seen with at least `termPruningThreshold` records for this tenant, so common words are pruned. */
  prunable: boolean
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
/** pgvector limits: `vector` columns up to 16,000 dimensions, HNSW on `vector` up to 2,000 and on `halfvec` up to 4,000. */
const MAX_DIMENSION = 16_000
const MAX_VECTOR_INDEX = 2_000
const MAX_HALFVEC_INDEX = 4_000
const UPSERT_CHUNK = 500
const MEMORY_SETTING = /^[1-9][0-9]{0,8} ?(kB|MB|GB)$/
/** SQLSTATE insufficient_privilege: the role is not the table's owner, so it cannot build the index. */
const INSUFFICIENT_PRIVILEGE = '42501'
const REGISTRY = 'engram_collections'
/** The row-level security policy on every collection table of a `rowLevelSecurity` store. */
const POLICY = 'engram_tenant'
// A pooled connection that once set app.tenant_id reads it back as '' afterwards, not NULL: treat
// '' as "no tenant" so such a connection can never see rows stored under the empty tenant.
const TENANT_SETTING = `nullif(current_setting('app.tenant_id', true), '')`

const OPERATOR: Readonly<Record<VectorMetric, string>> = { cosine: '<=>', dot: '<#>', euclidean: '<->' }
const OPCLASS: Readonly<Record<VectorMetric, string>> = {
  cosine: 'cosine_ops',
  dot: 'ip_ops',
  euclidean: 'l2_ops',
}

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

class PgVectorStoreImpl implements PgVectorStore {
  readonly kind = 'pgvector'
  readonly capabilities = CAPABILITIES
  readonly #db: StorageAdapter
  readonly #ownsAdapter: boolean
  /** Fixed by the config, or read from the server on first use. */
  #schema: string | undefined
  #registry = ''
  readonly #tenant: string
  readonly #rowLevelSecurity: boolean
  readonly #m: number
  readonly #efConstruction: number
  readonly #efSearch: number
  readonly #exactBelow: number
  readonly #hybridCandidates: number
  readonly #pruneFrom: number
  readonly #commonFraction: number
  readonly #createExtension: boolean
  readonly #indexBuildMemory: string
  /** Tables known to have their HNSW index, so the catalog is not asked again. */
  readonly #indexed = new Set<string>()
  /** Tables seen with at least `exactBelow` records for this tenant; they stay on HNSW. */
  readonly #large = new Set<string>()
  /** Tables seen with at least `termPruningThreshold` records for this tenant. */
  readonly #prunable = new Set<string>()
  #ready: Promise<void> | undefined
  #closed = false
  #closing: Promise<void> | undefined

  constructor(config: PgVectorStoreConfig) {
    if (typeof config !== 'object' || config === null) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'createPgVectorStore needs { adapter } or { connectionString }',
      )
    }
    if (config.adapter !== undefined) {
      if (config.adapter.dialect !== 'postgres') {
        throw new StorageError(
          'INVALID_ARGUMENT',
          `PgVectorStore needs a Postgres adapter, got a ${config.adapter.dialect} one`,
        )
      }
      this.#db = config.adapter
      this.#ownsAdapter = false
    } else {
      this.#db = createPostgresAdapter({ connectionString: config.connectionString as string })
      this.#ownsAdapter = true
    }
    const schema = config.schema
    if (schema !== undefined && !IDENTIFIER.test(schema)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `schema ${JSON.stringify(schema)} must be a plain identifier (letters, digits, _)`,
      )
    }
    const tenant = config.tenant ?? ''
    if (typeof tenant !== 'string' || tenant.length > 256) {
      throw new StorageError('INVALID_ARGUMENT', 'tenant must be a string of at most 256 characters')
    }
    this.#schema = schema
    this.#tenant = tenant
    this.#rowLevelSecurity = config.rowLevelSecurity === true
    if (this.#rowLevelSecurity && tenant === '') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'rowLevelSecurity needs a tenant: the policy admits only rows of a named tenant',
      )
    }
    this.#m = positiveInteger(config.m, 16, 'm')
    this.#efConstruction = positiveInteger(config.efConstruction, 64, 'efConstruction')
    this.#efSearch = positiveInteger(config.efSearch, 40, 'efSearch')
    this.#exactBelow = positiveInteger(config.exactBelow, 10_000, 'exactBelow', 0)
    this.#hybridCandidates = positiveInteger(config.hybridCandidates, 200, 'hybridCandidates')
    this.#pruneFrom = positiveInteger(config.termPruningThreshold, 10_000, 'termPruningThreshold')
    const fraction = config.commonTermFraction ?? 0.3
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `commonTermFraction must be a number above 0 and at most 1, got ${fraction}`,
      )
    }
    this.#commonFraction = fraction
    this.#createExtension = config.createExtension === true
    const memory = config.indexBuildMemory ?? '256MB'
    if (typeof memory !== 'string' || !MEMORY_SETTING.test(memory)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `indexBuildMemory must be a size such as '256MB' or '1GB', got ${JSON.stringify(memory)}`,
      )
    }
    this.#indexBuildMemory = memory
  }

  // ---- collections ------------------------------------------------------------------------

  async createCollection(name: string, spec: CollectionSpec): Promise<void> {
    this.#checkOpen()
    validateCollectionName(name)
    const wanted = validateCollectionSpec(spec, MAX_DIMENSION)
    await this.#setup()
    await this.#db.transaction(async (tx) => {
      // Two stores creating the same collection at once: the second waits and then sees the first's.
      await tx.get('SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked', {
        key: `${this.#registry}.${name}`,
      })
      const existing = await tx.get<{ id: number; dimension: number; metric: VectorMetric }>(
        `SELECT id, dimension, metric FROM ${this.#registry} WHERE name = :name`,
        { name },
      )
      if (existing !== undefined) {
        if (existing.dimension !== wanted.dimension || existing.metric !== wanted.metric) {
          throw specMismatch(name, existing, wanted)
        }
        if (this.#rowLevelSecurity) await this.#secure(tx, this.#tableName(Number(existing.id)))
        return
      }
      const row = await tx.get<{ id: number }>(
        `INSERT INTO ${this.#registry} (name, dimension, metric, m, ef_construction) VALUES (:name, :dimension, :metric, :m, :ef) RETURNING id`,
        { name, dimension: wanted.dimension, metric: wanted.metric, m: this.#m, ef: this.#efConstruction },
      )
      const id = Number(row?.id)
      await tx.exec(this.#tableDdl(id, wanted))
      if (this.#rowLevelSecurity) await tx.exec(rowSecurityDdl(this.#tableName(id)))
    })
  }

  async describeCollection(name: string): Promise<CollectionInfo | undefined> {
    this.#checkOpen()
    return this.#withMaybeCollection(name, async (db, collection) => {
      if (collection === undefined) return undefined
      const count = await this.#count(db, collection, undefined)
      return { name, dimension: collection.dimension, metric: collection.metric, count }
    })
  }

  async listCollections(): Promise<string[]> {
    this.#checkOpen()
    await this.#setup()
    const rows = await this.#db.all<{ name: string }>(
      `SELECT name FROM ${this.#registry} ORDER BY name COLLATE "C"`,
    )
    return rows.map((row) => row.name)
  }

  async dropCollection(name: string): Promise<void> {
    this.#checkOpen()
    validateCollectionName(name)
    await this.#setup()
    if (this.#tenant !== '') {
      // A collection is shared by every tenant: a tenant-scoped store removes only its own records.
      await this.#withMaybeCollection(name, async (db, collection) => {
        if (collection !== undefined)
          await db.run(`DELETE FROM ${collection.table} WHERE tenant_id = :tenant`, this.#scope())
      })
      return
    }
    await this.#db.transaction(async (tx) => {
      await tx.get('SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked', {
        key: `${this.#registry}.${name}`,
      })
      const row = await tx.get<{ id: number }>(
        `DELETE FROM ${this.#registry} WHERE name = :name RETURNING id`,
        { name },
      )
      if (row !== undefined) await tx.exec(`DROP TABLE IF EXISTS ${this.#tableName(Number(row.id))}`)
    })
  }

  // ---- records ----------------------------------------------------------------------------

  async upsert(collection: string, records: readonly VectorRecord[]): Promise<void> {
    this.#checkOpen()
    await this.#withCollection(collection, async (db, target) => {
      const valid = validateRecords(records, target.dimension)
      if (valid.length === 0) return
      const sql = `INSERT INTO ${target.table} (tenant_id, id, embedding, metadata, text)
        SELECT :tenant, u.id, u.embedding::vector, u.metadata::jsonb, u.text
        FROM unnest(:ids::text[], :embeddings::text[], :metadata::text[], :texts::text[]) AS u(id, embedding, metadata, text)
        ON CONFLICT (tenant_id, id) DO UPDATE
        SET embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, text = EXCLUDED.text`
      const write = async (tx: StorageAdapter): Promise<void> => {
        // One statement per chunk of rows (arrays bound as four parameters), never one round trip per row.
        for (let start = 0; start < valid.length; start += UPSERT_CHUNK) {
          const chunk = valid.slice(start, start + UPSERT_CHUNK)
          await tx.run(sql, {
            tenant: this.#tenant,
            ids: chunk.map((r) => r.id),
            embeddings: chunk.map((r) => vectorLiteral(r.vector)),
            metadata: chunk.map((r) => (r.metadata === undefined ? null : JSON.stringify(r.metadata))),
            texts: chunk.map((r) => r.text ?? null),
          })
        }
      }
      // All or nothing: several chunks share one transaction.
      if (valid.length <= UPSERT_CHUNK) await write(db)
      else await this.#atomic(db, write)
    })
  }

  async get(collection: string, ids: readonly string[]): Promise<VectorRecord[]> {
    this.#checkOpen()
    return this.#withCollection(collection, async (db, target) => {
      const wanted = checkIds(ids)
      if (wanted.length === 0) return []
      const rows = await db.all(
        `SELECT id, embedding, metadata, text FROM ${target.table} WHERE tenant_id = :tenant AND id = ANY(:ids::text[])`,
        { ...this.#scope(), ids: wanted },
      )
      const byId = new Map(rows.map((row) => [row.id as string, toRecord(row)]))
      return wanted.flatMap((id) => {
        const record = byId.get(id)
        byId.delete(id)
        return record === undefined ? [] : [record]
      })
    })
  }

  async delete(collection: string, target: DeleteTarget): Promise<number> {
    this.#checkOpen()
    const where = validateDeleteTarget(target)
    return this.#withCollection(collection, async (db, table) => {
      if ('ids' in where) {
        if (where.ids.length === 0) return 0
        const result = await db.run(
          `DELETE FROM ${table.table} WHERE tenant_id = :tenant AND id = ANY(:ids::text[])`,
          { ...this.#scope(), ids: where.ids },
        )
        return result.changes
      }
      const params = this.#scope()
      const condition = filterSql(where.filter, params)
      const result = await db.run(
        `DELETE FROM ${table.table} WHERE tenant_id = :tenant AND ${condition}`,
        params,
      )
      return result.changes
    })
  }

  async count(collection: string, filter?: Filter): Promise<number> {
    this.#checkOpen()
    const node = filter === undefined ? undefined : validateFilter(filter)
    return this.#withCollection(collection, (db, target) => this.#count(db, target, node))
  }

  async *scan(
    collection: string,
    options: { filter?: Filter; batchSize?: number } = {},
  ): AsyncIterable<VectorRecord[]> {
    this.#checkOpen()
    const { batchSize, filter } = validateScanOptions(options)
    const node = filter === undefined ? undefined : validateFilter(filter)
    validateCollectionName(collection)
    await this.#setup()
    const target = await this.#find(this.#db, collection)
    if (target === undefined) throw collectionNotFound(collection)
    let after = '' // ids are non-empty, and '' sorts first under COLLATE "C"
    while (true) {
      this.#checkOpen()
      const params: Record<string, SqlValue> = { ...this.#scope(), after, limit: batchSize }
      const condition = node === undefined ? 'TRUE' : filterSql(node, params)
      // Keyset pagination on the primary key: each page is an index range scan, however deep the scan is.
      // Each page is its own operation: no transaction stays open while the caller holds a page.
      const rows = await this.#scoped((db) =>
        db.all(
          `SELECT id, embedding, metadata, text FROM ${target.table}
           WHERE tenant_id = :tenant AND id > :after AND ${condition} ORDER BY id LIMIT :limit`,
          params,
        ),
      )
      if (rows.length > 0) yield rows.map(toRecord)
      if (rows.length < batchSize) return
      after = rows[rows.length - 1]?.id as string
    }
  }

  // ---- search -----------------------------------------------------------------------------

  async query(collection: string, query: VectorQuery): Promise<VectorMatch[]> {
    this.#checkOpen()
    return this.#withCollection(collection, (db, target) => this.#search(db, target, query))
  }

  async #search(db: StorageAdapter, target: Collection, query: VectorQuery): Promise<VectorMatch[]> {
    const valid = validateQuery(query, target.dimension)
    const params: Record<string, SqlValue> = { ...this.#scope(), top: valid.topK }
    const condition = valid.filter === undefined ? 'TRUE' : filterSql(validateFilter(valid.filter), params)
    if (valid.mode !== 'text') params.q = vectorLiteral(valid.vector as Float32Array)
    if (valid.mode !== 'vector') params.text = valid.text ?? ''
    const columns = `t.id, t.metadata, t.text${valid.includeVectors ? ', t.embedding' : ''}`
    const tsquery = valid.mode === 'vector' ? '' : await this.#textQuery(db, target, params)
    if (valid.mode === 'text') {
      const rows = await db.all(
        `SELECT ${columns}, ts_rank_cd(t.tsv, q.query)::float8 AS score
         FROM ${target.table} t, ${tsquery} q
         WHERE t.tenant_id = :tenant AND t.tsv @@ q.query AND ${condition}
         ORDER BY score DESC, t.id LIMIT :top`,
        params,
      )
      return rows.map(toMatch)
    }
    const ann = await this.#useIndex(db, target)
    if (ann) await this.#indexForSearch(db, target)
    const score = scoreSql(target.metric)
    if (valid.mode === 'vector') {
      if (!ann) {
        const rows = await db.all(
          `SELECT ${columns}, ${score} AS score FROM ${target.table} t
           WHERE t.tenant_id = :tenant AND ${condition} ORDER BY score DESC, t.id LIMIT :top`,
          params,
        )
        return rows.map(toMatch)
      }
      const rows = await this.#annQuery(db, valid, (tx) =>
        tx.all(
          `SELECT ${columns}, ${score} AS score FROM ${target.table} t
           WHERE t.tenant_id = :tenant AND ${condition} ORDER BY ${this.#distanceSql(target)} LIMIT :top`,
          params,
        ),
      )
      // relaxed_order may hand back neighbours slightly out of order: sort by the exact score.
      return rows.map(toMatch).sort(byScoreThenId)
    }
    params.k = valid.rrfK
    const candidates = ann
      ? `(SELECT t.id, t.embedding FROM ${target.table} t WHERE t.tenant_id = :tenant AND ${condition}
          ORDER BY ${this.#distanceSql(target)} LIMIT :candidates)`
      : `(SELECT t.id, t.embedding FROM ${target.table} t WHERE t.tenant_id = :tenant AND ${condition})`
    params.candidates = Math.max(this.#hybridCandidates, valid.topK)
    // Reciprocal Rank Fusion in one statement: both ranked lists, a full outer join, and 1/(k + rank) summed.
    // The text list is cut to the vector list's depth before it is numbered, so only the best
    // matches are sorted and joined.
    const sql = `WITH vector_list AS (
        SELECT t.id, row_number() OVER (ORDER BY ${score} DESC, t.id) AS rank FROM ${candidates} t
      ), text_list AS (
        SELECT m.id, row_number() OVER (ORDER BY m.score DESC, m.id) AS rank FROM (
          SELECT t.id, ts_rank_cd(t.tsv, q.query) AS score
          FROM ${target.table} t, ${tsquery} q
          WHERE t.tenant_id = :tenant AND t.tsv @@ q.query AND ${condition}
          ORDER BY score DESC, t.id LIMIT :candidates
        ) m
      ), fused AS (
        SELECT coalesce(v.id, x.id) AS id,
          coalesce(1::float8 / (:k::float8 + v.rank), 0) + coalesce(1::float8 / (:k::float8 + x.rank), 0) AS score,
          least(v.rank, x.rank) AS best
        FROM vector_list v FULL OUTER JOIN text_list x ON v.id = x.id
      )
      SELECT ${columns}, f.score FROM fused f JOIN ${target.table} t ON t.tenant_id = :tenant AND t.id = f.id
      ORDER BY f.score DESC, f.best, f.id LIMIT :top`
    const rows = ann
      ? await this.#annQuery(db, valid, (tx) => tx.all(sql, params))
      : await db.all(sql, params)
    return rows.map(toMatch)
  }

  async buildIndex(collection: string): Promise<void> {
    this.#checkOpen()
    await this.#withCollection(collection, (db, target) => this.#ensureIndex(db, target))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#closing ??= this.#ownsAdapter ? this.#db.close() : Promise.resolve()
    return this.#closing
  }

  // ---- internals --------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('CLOSED', 'The pgvector store is closed')
  }

  #scope(): Record<string, SqlValue> {
    return { tenant: this.#tenant }
  }

  /** Checks for pgvector and creates the schema and registry once per store. */
  #setup(): Promise<void> {
    this.#ready ??= this.#createRegistry().catch((error: unknown) => {
      this.#ready = undefined // a later call retries, e.g. once the server is reachable
      throw error
    })
    return this.#ready
  }

  async #createRegistry(): Promise<void> {
    if (this.#schema === undefined) {
      const row = await this.#db.get<{ schema: string | null }>('SELECT current_schema() AS schema')
      this.#schema = row?.schema ?? 'public'
    }
    this.#registry = `"${this.#schema}"."${REGISTRY}"`
    const installed = await this.#db.get(`SELECT 1 AS ok FROM pg_extension WHERE extname = 'vector'`)
    if (installed === undefined) {
      if (!this.#createExtension) throw pgvectorMissing()
      try {
        await this.#db.exec('CREATE EXTENSION IF NOT EXISTS vector')
      } catch (error) {
        throw pgvectorMissing(error)
      }
    }
    await this.#db.transaction(async (tx) => {
      const found = await tx.get<{ present: boolean }>(
        'SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema) AS present',
        { key: this.#registry, schema: this.#schema as string },
      )
      // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
      if (found?.present !== true) await tx.exec(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`)
      await tx.exec(`CREATE TABLE IF NOT EXISTS ${this.#registry} (
          id BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
          name TEXT COLLATE "C" PRIMARY KEY,
          dimension INTEGER NOT NULL,
          metric TEXT NOT NULL,
          m INTEGER NOT NULL,
          ef_construction INTEGER NOT NULL,
          created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`)
    })
  }

  #tableName(id: number): string {
    return `"${this.#schema}"."engram_v${id}"`
  }

  /** DDL for one collection, without its HNSW index (see `#ensureIndex`); only validated integers and fixed words are spliced in. */
  #tableDdl(id: number, spec: Required<CollectionSpec>): string {
    const table = this.#tableName(id)
    const index = (suffix: string) => `"engram_v${id}_${suffix}"`
    const { dimension } = spec
    const statements = [
      `CREATE TABLE ${table} (
        tenant_id TEXT COLLATE "C" NOT NULL DEFAULT '',
        id TEXT COLLATE "C" NOT NULL,
        embedding vector(${dimension}) NOT NULL,
        metadata JSONB,
        text TEXT,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(text, ''))) STORED,
        PRIMARY KEY (tenant_id, id)
      )`,
      `CREATE INDEX ${index('metadata')} ON ${table} USING gin (metadata)`,
      `CREATE INDEX ${index('tsv')} ON ${table} USING gin (tsv)`,
    ]
    return statements.join(';\n')
  }

  /**
   * The HNSW index's DDL with the m and ef_construction the registry recorded when the collection
   * was created. Only validated integers and fixed words are spliced in.
   */
  #indexDdl(collection: Collection, m: number, efConstruction: number): string {
    const { table, relation, dimension, metric } = collection
    const head = `CREATE INDEX IF NOT EXISTS "${relation}_hnsw" ON ${table} USING hnsw`
    const options = `WITH (m = ${integer(m)}, ef_construction = ${integer(efConstruction)})`
    if (dimension <= MAX_VECTOR_INDEX) return `${head} (embedding vector_${OPCLASS[metric]}) ${options}`
    // HNSW indexes `vector` up to 2,000 dimensions; half precision in the index, full precision in the table.
    return `${head} ((embedding::halfvec(${dimension})) halfvec_${OPCLASS[metric]}) ${options}`
  }

  /**
   * Builds the collection's HNSW index unless it exists. Building it once, after the rows are in,
   * is many times faster than maintaining it on every insert. Runs in its own transaction (a
   * savepoint inside an operation's transaction), so a failed build leaves the caller's intact.
   */
  async #ensureIndex(db: StorageAdapter, collection: Collection): Promise<void> {
    // Above 4,000 dimensions there is no index: search is always exact.
    if (collection.dimension > MAX_HALFVEC_INDEX || this.#indexed.has(collection.table)) return
    const found = await db.get<{ present: boolean; m: number; ef: number }>(
      `SELECT to_regclass(:index) IS NOT NULL AS present, m, ef_construction AS ef FROM ${this.#registry} WHERE name = :name`,
      { index: `"${this.#schema}"."${collection.relation}_hnsw"`, name: collection.name },
    )
    if (found === undefined) throw collectionNotFound(collection.name) // dropped meanwhile
    if (!found.present) {
      const ddl = this.#indexDdl(collection, found.m, found.ef)
      await db.transaction(async (tx) => {
        // Concurrent builders queue here; the later ones find the index and skip (IF NOT EXISTS).
        await tx.get(
          `SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked, set_config('maintenance_work_mem', :memory, true) AS memory`,
          { key: `${collection.table}.hnsw`, memory: this.#indexBuildMemory },
        )
        await tx.exec(ddl)
      })
    }
    this.#indexed.add(collection.table)
  }

  #distanceSql(collection: Collection): string {
    const op = OPERATOR[collection.metric]
    if (collection.dimension <= MAX_VECTOR_INDEX) return `t.embedding ${op} :q::vector`
    const half = `halfvec(${collection.dimension})`
    return `(t.embedding::${half}) ${op} (:q::vector::${half})`
  }

  /** Whether a vector search should use the HNSW index: only for collections that have one and are large. */
  async #useIndex(db: StorageAdapter, collection: Collection): Promise<boolean> {
    if (collection.dimension > MAX_HALFVEC_INDEX) return false
    if (collection.large) return true
    if (this.#exactBelow === 0) return true
    // Counting stops at the threshold, so this costs at most `exactBelow` index entries.
    const row = await db.get<{ n: number }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM ${collection.table} WHERE tenant_id = :tenant LIMIT :limit) s`,
      { ...this.#scope(), limit: this.#exactBelow },
    )
    collection.large = (row?.n ?? 0) >= this.#exactBelow
    if (collection.large) this.#large.add(collection.table)
    return collection.large
  }

  /**
   * Builds the index for a search about to take the HNSW path. A role that does not own the table
   * cannot build it: its searches stay correct, as exact scans, until the owner calls `buildIndex`.
   */
  async #indexForSearch(db: StorageAdapter, collection: Collection): Promise<void> {
    try {
      await this.#ensureIndex(db, collection)
    } catch (error) {
      if (causeCode(error) !== INSUFFICIENT_PRIVILEGE) throw error
    }
  }

  /**
   * The tsquery (a one-row subquery, its values added to `params`) that text mode and hybrid's
   * text list both use: every word of the text, or on a collection of at least
   * `termPruningThreshold` records every word but those in more than `commonTermFraction` of the
   * table's rows by its statistics (none before the table's first ANALYZE).
   */
  async #textQuery(
    db: StorageAdapter,
    target: Collection,
    params: Record<string, SqlValue>,
  ): Promise<string> {
    if (!(await this.#isPrunable(db, target))) return TSQUERY
    // A count per word would visit every matching row; the planner statistics ANALYZE keeps for the
    // tsvector column (its most common lexemes and the share of rows holding each) cost one lookup.
    const rows = await db.all<{ term: string; share: number }>(
      `SELECT w.term, coalesce(s.share, 0) AS share
       FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, :text))) AS w(term)
       LEFT JOIN (
         SELECT e.term, e.share FROM pg_stats p,
           unnest(p.most_common_elems::text::text[], p.most_common_elem_freqs) AS e(term, share)
         WHERE p.schemaname = :schema AND p.tablename = :relation AND p.attname = 'tsv'
       ) s ON s.term = w.term`,
      { text: params.text as string, schema: this.#schema as string, relation: target.relation },
    )
    if (rows.length < 2) return TSQUERY
    const terms = rows.map((row) => row.term)
    const shares = new Map(rows.map((row) => [row.term, Number(row.share)]))
    const kept = pruneCommonTerms(terms, shares, 1, this.#commonFraction)
    if (kept.length === terms.length) return TSQUERY
    params.terms = kept
    delete params.text
    return PRUNED_TSQUERY
  }

  /** Whether the tenant has at least `termPruningThreshold` records; counting stops at the threshold. */
  async #isPrunable(db: StorageAdapter, collection: Collection): Promise<boolean> {
    if (collection.prunable) return true
    const row = await db.get<{ n: number }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM ${collection.table} WHERE tenant_id = :tenant LIMIT :limit) s`,
      { ...this.#scope(), limit: this.#pruneFrom },
    )
    collection.prunable = Number(row?.n ?? 0) >= this.#pruneFrom
    if (collection.prunable) this.#prunable.add(collection.table)
    return collection.prunable
  }

  /** Runs an HNSW search with its settings scoped to one transaction (SET LOCAL). */
  #annQuery(
    db: StorageAdapter,
    query: ValidQuery,
    run: (tx: StorageAdapter) => Promise<Row[]>,
  ): Promise<Row[]> {
    return this.#atomic(db, async (tx) => {
      // iterative_scan keeps walking the graph until a filtered query has topK rows.
      await tx.get(
        `SELECT set_config('hnsw.ef_search', :ef, true) AS ef, set_config('hnsw.iterative_scan', 'relaxed_order', true) AS scan`,
        { ef: String(Math.min(1000, Math.max(this.#efSearch, query.topK))) },
      )
      return run(tx)
    })
  }

  async #count(db: StorageAdapter, collection: Collection, filter: FilterNode | undefined): Promise<number> {
    const params = this.#scope()
    const condition = filter === undefined ? 'TRUE' : filterSql(filter, params)
    const row = await db.get<{ n: number }>(
      `SELECT count(*) AS n FROM ${collection.table} WHERE tenant_id = :tenant AND ${condition}`,
      params,
    )
    return Number(row?.n ?? 0)
  }

  /** Runs one operation on a registered collection (`NOT_FOUND` otherwise); see `#withMaybeCollection`. */
  #withCollection<T>(
    name: string,
    fn: (db: StorageAdapter, collection: Collection) => Promise<T>,
  ): Promise<T> {
    return this.#withMaybeCollection(name, (db, collection) => {
      if (collection === undefined) throw collectionNotFound(name)
      return fn(db, collection)
    })
  }

  /**
   * Runs one operation: on the adapter, or with row-level security in one transaction whose
   * `app.tenant_id` is set by the collection lookup itself, so RLS adds only BEGIN and COMMIT.
   */
  async #withMaybeCollection<T>(
    name: string,
    fn: (db: StorageAdapter, collection: Collection | undefined) => Promise<T>,
  ): Promise<T> {
    validateCollectionName(name)
    await this.#setup()
    if (!this.#rowLevelSecurity) return fn(this.#db, await this.#find(this.#db, name))
    return this.#db.transaction(async (tx) => fn(tx, await this.#find(tx, name)))
  }

  /** Runs statements that need no collection lookup, with `app.tenant_id` set under row-level security. */
  #scoped<T>(fn: (db: StorageAdapter) => Promise<T>): Promise<T> {
    if (!this.#rowLevelSecurity) return fn(this.#db)
    return this.#db.transaction(async (tx) => {
      await tx.get(`SELECT set_config('app.tenant_id', :tenant, true) AS tenant`, this.#scope())
      return fn(tx)
    })
  }

  /** Runs `fn` in a transaction; under row-level security `db` already is the operation's transaction. */
  #atomic<T>(db: StorageAdapter, fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    return this.#rowLevelSecurity ? fn(db) : db.transaction(fn)
  }

  /** Turns on row-level security for a collection table that does not have engram's policy yet (needs its owner). */
  async #secure(db: StorageAdapter, table: string): Promise<void> {
    const row = await db.get<{ secured: boolean }>(
      `SELECT c.relrowsecurity AND c.relforcerowsecurity
        AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy) AS secured
       FROM pg_class c WHERE c.oid = :table::regclass`,
      { table, policy: POLICY },
    )
    if (row?.secured !== true) await db.exec(rowSecurityDdl(table))
  }

  /**
   * The registered collection, or `undefined`. Looked up on every call (one indexed read), so a
   * collection dropped or recreated elsewhere is never stale. Under row-level security the same
   * statement sets `app.tenant_id` for the rest of the transaction.
   */
  async #find(db: StorageAdapter, name: string): Promise<Collection | undefined> {
    const row = this.#rowLevelSecurity
      ? await db.get<{ id: number | null; dimension: number; metric: VectorMetric }>(
          `SELECT set_config('app.tenant_id', :tenant, true) AS tenant, r.id, r.dimension, r.metric
           FROM (VALUES (1)) AS one (x) LEFT JOIN ${this.#registry} r ON r.name = :name`,
          { ...this.#scope(), name },
        )
      : await db.get<{ id: number; dimension: number; metric: VectorMetric }>(
          `SELECT id, dimension, metric FROM ${this.#registry} WHERE name = :name`,
          { name },
        )
    if (row === undefined || row.id === null) return undefined
    const table = this.#tableName(Number(row.id))
    return {
      name,
      table,
      relation: `engram_v${Number(row.id)}`,
      dimension: row.dimension,
      metric: row.metric,
      large: this.#large.has(table),
      prunable: this.#prunable.has(table),
    }
  }
}

/**
 * Row-level security for one collection table. FORCE makes the policy bind the table's owner too;
 * `current_setting(…, true)` is NULL (no rows) when a session never set `app.tenant_id`, and so is ''.
 */
function rowSecurityDdl(table: string): string {
  const check = `tenant_id = ${TENANT_SETTING}`
  return `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS ${POLICY} ON ${table};
    CREATE POLICY ${POLICY} ON ${table} USING (${check}) WITH CHECK (${check})`
}

/** The text query: the words of the text, any of which may match (like the reference store's BM25). */
const TSQUERY = `(SELECT replace(plainto_tsquery('simple'::regconfig, :text)::text, ' & ', ' | ')::tsquery AS query)`

/**
 * A tsquery of exactly the given lexemes, ORed: built through a tsvector, whose lexemes are never
 * parsed again (no word is split or normalised twice), then printed as `'a' 'b'` and read back
 * with `|` between them. Lexemes from the parser hold no spaces, so the separator is unambiguous.
 */
const LEXEMES_TO_TSQUERY = (array: string) =>
  `replace(strip(array_to_tsvector(${array}))::text, ''' ''', ''' | ''')::tsquery`
/** The pruned text query: the kept words (bound as `:terms`), any of which may match. */
const PRUNED_TSQUERY = `(SELECT ${LEXEMES_TO_TSQUERY(':terms::text[]')} AS query)`

/** The score, higher is better, exactly as core's `similarity()` defines it. */
function scoreSql(metric: VectorMetric): string {
  if (metric === 'dot') return '(-(t.embedding <#> :q::vector))'
  if (metric === 'euclidean') return '(-(t.embedding <-> :q::vector))'
  // pgvector returns NaN for a zero vector; core scores it 0.
  return `coalesce(nullif(1 - (t.embedding <=> :q::vector), 'NaN'::float8), 0)`
}

/** The SQL condition for a validated filter, its values added to `params` as `:f0`, `:f1`, … */
function filterSql(node: FilterNode, params: Record<string, SqlValue>): string {
  let next = 0
  return pgFilter(node, (value) => {
    const name = `f${next++}`
    params[name] = value
    return `:${name}`
  })
}

function checkIds(ids: readonly string[]): string[] {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
    throw new StorageError('INVALID_ARGUMENT', 'ids must be an array of strings')
  }
  return [...new Set(ids)]
}

/** A registry integer, checked before it is spliced into DDL. */
function integer(value: unknown): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `expected a positive integer in the registry, got ${String(value)}`,
    )
  }
  return n
}

function positiveInteger(value: number | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) {
    throw new StorageError('INVALID_ARGUMENT', `${name} must be an integer of at least ${min}, got ${value}`)
  }
  return value
}

/** The SQLSTATE of the driver error behind a `StorageError`, if any. */
function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined
  return typeof cause?.code === 'string' ? cause.code : undefined
}

function pgvectorMissing(cause?: unknown): StorageError {
  return new StorageError(
    'DRIVER_NOT_INSTALLED',
    'pgvector is not installed in this database: run CREATE EXTENSION vector, or see docs/postgres.md',
    cause === undefined ? {} : { cause },
  )
}

/** pgvector's text form, `[x,y,…]`; a float32 printed as a double parses back to the same float32. */
function vectorLiteral(vector: Float32Array): string {
  let out = '['
  for (let i = 0; i < vector.length; i++) out += (i === 0 ? '' : ',') + vector[i]
  return `${out}]`
}

function parseVector(text: string): Float32Array {
  const parts = text.slice(1, -1).split(',')
  const out = new Float32Array(parts.length)
  for (let i = 0; i < parts.length; i++) out[i] = Number(parts[i])
  return out
}

function toRecord(row: Row): VectorRecord {
  const record: VectorRecord = { id: row.id as string, vector: parseVector(row.embedding as string) }
  if (row.metadata !== null && row.metadata !== undefined) record.metadata = row.metadata as Metadata
  if (row.text !== null && row.text !== undefined) record.text = row.text as string
  return record
}

function toMatch(row: Row): VectorMatch {
  const match: VectorMatch = { id: row.id as string, score: Number(row.score) }
  if (row.metadata !== null && row.metadata !== undefined) match.metadata = row.metadata as Metadata
  if (row.text !== null && row.text !== undefined) match.text = row.text as string
  if (row.embedding !== undefined) match.vector = parseVector(row.embedding as string)
  return match
}

function byScoreThenId(a: VectorMatch, b: VectorMatch): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
