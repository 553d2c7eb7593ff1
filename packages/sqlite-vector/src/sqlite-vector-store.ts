import {
  type CollectionSpec,
  type CollectionUse,
  collectionNotFound,
  FILTER_OPERATORS,
  type FilterNode,
  integerOption,
  reciprocalRankFusion,
  type StorageAdapter,
  StorageError,
  type StoreDeleteTarget,
  type StoreQuery,
  type StoreScanOptions,
  specMismatch,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorRecord,
  type VectorStore,
  VectorStoreBase,
  vectorToBytes,
} from '@engram/core'
import { type CheckedAnnConfig, checkAnnConfig, type SqliteVectorAnnConfig } from './ann-config.js'
import { type AnnStatus, type AnnTier, openAnnTier } from './ann-tier.js'
import {
  type CollectionRow,
  collectionTables,
  createCollectionTables,
  dropCollectionTables,
  ensureRegistry,
  REGISTRY,
  REGISTRY_COLUMNS,
} from './collection-tables.js'
import { ExactCache } from './exact-cache.js'
import { RecordCache } from './record-cache.js'
import { CHUNK, type Hit, marks, type StoredRow, toMatches, toRecord } from './record-rows.js'
import { type SqlFragment, sqliteWhere } from './sqlite-filter.js'
import { TextSearch } from './text-search.js'
import { VectorSearch } from './vector-search.js'

/** Options for `createSqliteVectorStore`. */
export interface SqliteVectorStoreConfig {
  /** A SQLite-dialect adapter with JSON functions (any SQLite-family driver). The store never closes it. */
  adapter: StorageAdapter
  /** Turns on the ANN tier (an HNSW index per collection, from `@engram/hnsw-sidecar`); without it every search is exact. */
  ann?: SqliteVectorAnnConfig
  /**
   * Records a collection needs before vector search leaves the exact scan for the ANN index
   * (with `ann` only); a filter that selects fewer records than this is searched exactly too.
   * The exact scan runs in this process on vectors already in memory, so it stays fast for
   * longer than a server round trip would, but its cost grows with every record while the
   * index's does not; pgvector's store, whose exact scans are server-side, uses 10,000.
   * Default is `1000`.
   */
  exactBelow?: number
  /**
   * How many of the best vector matches and of the best text matches hybrid search fuses with
   * RRF (at least `topK`). A deeper list lets a record ranked far down one list still lift it in
   * the fusion, but each list costs more to rank. Default is `200`, as on every engram store.
   */
  hybridCandidates?: number
  /**
   * Records a collection needs before text and hybrid queries drop their very common words (see
   * `commonTermFraction`), so a question such as "what is the …" does not rank nearly every record.
   * Smaller collections always search every word. Default is `10000`.
   */
  termPruningThreshold?: number
  /**
   * On a collection at or above `termPruningThreshold`, a query word found in more than this
   * fraction of the records is left out of text search (the rarest word is always kept). Such
   * words add almost nothing to BM25. Default is `0.3`.
   */
  commonTermFraction?: number
  /**
   * Bytes of decoded vectors the store keeps in memory for exact search, for all collections
   * together. A collection's vectors load on its first exact query; each later query checks the
   * collection's change sequence and applies what any store or process wrote since, so results
   * never go stale. A collection that does not fit is scanned from the database on every query,
   * and `0` turns the cache off. A collection costs about `count × (dimension × 4 + 56)` bytes.
   * Default is `64 * 1024 * 1024` (64 MiB).
   */
  exactCacheBytes?: number
  /**
   * Bytes of query results the store keeps in memory, for all collections together: the id,
   * metadata and text of the records queries returned (least recently used go first), so a
   * query reads from the database only the winners it has not returned before. Each query
   * checks the collection's change sequence and forgets every record any store or process wrote
   * or deleted since, so results never go stale. A record costs about `96 + 2 × (length of its
   * id, metadata JSON and text)` bytes; `0` turns the cache off. Queries that ask for vectors
   * always read them from the database. Default is `32 * 1024 * 1024` (32 MiB).
   */
  recordCacheBytes?: number
}

/** A `VectorStore` on a SQLite-dialect `StorageAdapter`, with the ANN tier's status on top. */
export interface SqliteVectorStore extends VectorStore {
  /** Where a collection's ANN index stands (whether it is open or building, its size and the sequence it has applied). */
  annStatus(collection: string): Promise<AnnStatus>
  /**
   * Call after writes made elsewhere (another store, a transaction lent to a writer). An index at
   * most 64 written records behind takes them in now (opened from its file first, as a query
   * would open it, if this store has not opened it yet), so the next query does not wait for them:
   * a memory calls this once each write commits, so `remember()` pays for its own vector, as a
   * write to any index does. A larger backlog, or a collection with no usable index file, starts
   * the background build or catch-up it needs without waiting for it. Does nothing without `ann`
   * or below `exactBelow`.
   */
  prepareIndex(collection: string): Promise<void>
  /**
   * Builds the collection's ANN index now, or catches it up, and resolves once it answers with
   * every record; a failed background build is tried again. Queries never wait for a build (they
   * search exactly meanwhile), so call this after a bulk load to have the index ready. Without
   * `ann` there is no index, and it resolves at once.
   *
   * @example
   * await store.upsert('docs', records)
   * await store.buildIndex('docs')
   */
  buildIndex(collection: string): Promise<void>
}

const METRICS = ['cosine', 'dot', 'euclidean'] as const

/**
 * Written records an open index takes in within `prepareIndex`: a `remember()` or a small batch
 * (about 0.8 ms a vector into an HNSW graph of 100,000 here); a larger backlog is left to the
 * next query or the background catch-up, off the writer's path.
 */
const APPLY_ON_PREPARE = 64

/**
 * Creates a `VectorStore` on any SQLite-dialect adapter (better-sqlite3, sql.js, IndexedDB,
 * Capacitor): vectors as little-endian Float32 blobs searched exactly, metadata filters as
 * `json_extract` SQL, full text through FTS5 (or FTS4), hybrid search fused with RRF, and, with
 * `ann`, an HNSW index that takes over from `exactBelow` records per collection.
 *
 * Each collection is a row in `engram_collections` and its own tables named by the row's
 * integer key (`engram_vec_<n>`, `engram_fts_<n>`, `engram_gone_<n>`).
 *
 * @example
 * const adapter = createSqliteNativeAdapter({ filename: 'app.db' })
 * const store = createSqliteVectorStore({ adapter, ann: { path: 'app.db' } })
 */
export function createSqliteVectorStore(config: SqliteVectorStoreConfig): SqliteVectorStore {
  if (typeof config !== 'object' || config === null) {
    throw new StorageError('INVALID_ARGUMENT', 'createSqliteVectorStore takes { adapter, ...options }')
  }
  if ('dialect' in config) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createSqliteVectorStore takes { adapter, ...options }, not the adapter itself: write createSqliteVectorStore({ adapter })',
    )
  }
  const { adapter } = config
  if (adapter?.dialect !== 'sqlite') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `createSqliteVectorStore needs a SQLite-dialect adapter, got ${adapter?.dialect}; for Postgres use @engram/postgres's createPgVectorStore`,
    )
  }
  if (!adapter.capabilities.json) {
    throw new StorageError(
      'UNSUPPORTED',
      `The ${adapter.kind} adapter has no JSON functions, which metadata filters need`,
    )
  }
  const fraction = config.commonTermFraction ?? 0.3
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `commonTermFraction must be a number above 0 and at most 1, got ${fraction}`,
    )
  }
  const cacheBytes = integerOption(config.exactCacheBytes, 64 * 1024 * 1024, 'exactCacheBytes', 0)
  const recordBytes = integerOption(config.recordCacheBytes, 32 * 1024 * 1024, 'recordCacheBytes', 0)
  return new SqliteStore(adapter, {
    ann: config.ann === undefined ? undefined : checkAnnConfig(config.ann, adapter),
    exactBelow: integerOption(config.exactBelow, 1000, 'exactBelow', 0),
    termPruningThreshold: integerOption(config.termPruningThreshold, 10_000, 'termPruningThreshold'),
    hybridCandidates: integerOption(config.hybridCandidates, 200, 'hybridCandidates'),
    commonTermFraction: fraction,
    cache: cacheBytes > 0 ? new ExactCache(adapter, cacheBytes) : undefined,
    records: recordBytes > 0 ? new RecordCache(adapter, recordBytes) : undefined,
  })
}

interface StoreSettings {
  ann: CheckedAnnConfig | undefined
  exactBelow: number
  hybridCandidates: number
  termPruningThreshold: number
  commonTermFraction: number
  cache: ExactCache | undefined
  records: RecordCache | undefined
}

/**
 * The store on core's skeleton: `VectorStoreBase` checks every argument, so each method here
 * only translates to SQL. The registry row (`CollectionRow`) is the collection object.
 */
class SqliteStore extends VectorStoreBase<CollectionRow> implements SqliteVectorStore {
  readonly kind = 'sqlite-vector'
  readonly capabilities: VectorCapabilities
  readonly #db: StorageAdapter
  readonly #fts: 'fts5' | 'fts4' | null
  readonly #ann: CheckedAnnConfig | undefined
  readonly #cache: ExactCache | undefined
  readonly #vectors: VectorSearch
  readonly #text: TextSearch
  readonly #exactBelow: number
  readonly #hybridCandidates: number
  readonly #records: RecordCache | undefined
  /** Each collection's registry row as this store last read it, for queries (see `withCollection`). */
  readonly #known = new Map<string, CollectionRow>()
  #tier: Promise<AnnTier> | undefined

  constructor(db: StorageAdapter, settings: StoreSettings) {
    super()
    this.#db = db
    const fts = db.capabilities.fts
    this.#fts = fts === 'fts5' || fts === 'fts4' ? fts : null
    this.#ann = settings.ann
    this.#cache = settings.cache
    this.#records = settings.records
    this.#exactBelow = settings.exactBelow
    this.#hybridCandidates = settings.hybridCandidates
    this.#vectors = new VectorSearch(db, {
      exactBelow: settings.exactBelow,
      cache: settings.cache,
      annTier: settings.ann === undefined ? undefined : () => this.#annTier(),
    })
    this.#text = new TextSearch(db, settings)
    this.capabilities = Object.freeze({
      hybrid: this.#fts !== null,
      operators: FILTER_OPERATORS,
      metrics: METRICS,
      maxDimension: 65_535,
      exact: settings.ann === undefined,
    })
  }

  async annStatus(collection: string): Promise<AnnStatus> {
    return this.onCollection(
      collection,
      async (c) => {
        if (!this.#ann) return { open: false, size: 0, appliedSequence: 0, sequence: c.seq, building: false }
        return (await this.#annTier()).status(c)
      },
      'read',
    )
  }

  async prepareIndex(collection: string): Promise<void> {
    return this.onCollection(collection, (c) => this.#indexWork(c, APPLY_ON_PREPARE), 'read')
  }

  async buildIndex(collection: string): Promise<void> {
    return this.onCollection(collection, async (c) => {
      if (!this.#ann) return
      const tier = await this.#annTier()
      let row: CollectionRow | undefined = c
      while (!(await tier.build(row))) {
        // A background build finished; the collection may have changed meanwhile.
        row = await findCollection(this.#db, collection)
        if (row === undefined) throw collectionNotFound(collection)
      }
    })
  }

  protected override setUp(): Promise<void> {
    return ensureRegistry(this.#db)
  }

  protected findCollection(name: string): Promise<CollectionRow | undefined> {
    return findCollection(this.#db, name)
  }

  /**
   * A query checks the collection's registry row as this store last read it by its key, reading
   * only its change sequence and uid: when both are unchanged, no store or process wrote,
   * dropped or re-created the collection since, and the query uses the row it has. Otherwise,
   * and for every read and write, the row is read again by name. The remembered row's tombstone
   * floor may be behind (a checkpoint prunes tombstones without a write); every catch-up reads the
   * floor itself after the tombstones, so none relies on it.
   */
  protected override async withCollection<T>(
    name: string,
    fn: (collection: CollectionRow | undefined) => Promise<T>,
    use: CollectionUse,
  ): Promise<T> {
    const known = use === 'query' ? this.#known.get(name) : undefined
    if (known !== undefined) {
      const now = await this.#db.get<{ seq: number; uid: string }>(
        `SELECT seq, uid FROM ${REGISTRY} WHERE cid = ?`,
        [known.cid],
      )
      if (now !== undefined && now.seq === known.seq && now.uid === known.uid) return fn(known)
    }
    const row = await findCollection(this.#db, name)
    if (row === undefined) this.#known.delete(name)
    else this.#known.set(name, row)
    return fn(row)
  }

  protected async addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    this.#known.delete(name)
    await this.#db.transaction(async (tx) => {
      const existing = await findCollection(tx, name)
      if (existing) {
        if (existing.dimension !== spec.dimension || existing.metric !== spec.metric) {
          throw specMismatch(name, existing, spec)
        }
        return
      }
      const result = await tx.run(
        `INSERT INTO ${REGISTRY} (name, uid, dimension, metric, fts) VALUES (?, ?, ?, ?, ?)`,
        [name, randomUid(), spec.dimension, spec.metric, this.#fts],
      )
      await createCollectionTables(tx, Number(result.lastInsertRowid), this.#fts)
    })
  }

  protected async removeCollection(name: string): Promise<void> {
    this.#known.delete(name)
    const dropped = await this.#db.transaction(async (tx) => {
      const row = await findCollection(tx, name)
      if (!row) return undefined
      // The term statistics read the FTS table, so they go first.
      await this.#text.forget(tx, row.cid)
      await dropCollectionTables(tx, row.cid)
      await tx.run(`DELETE FROM ${REGISTRY} WHERE cid = ?`, [row.cid])
      return row.cid
    })
    if (dropped === undefined) return
    this.#cache?.drop(dropped)
    this.#records?.drop(dropped)
    if (this.#ann) await (await this.#annTier()).drop(name)
  }

  protected async collectionNames(): Promise<string[]> {
    const rows = await this.#db.all<{ name: string }>(`SELECT name FROM ${REGISTRY}`)
    return rows.map((row) => row.name)
  }

  protected async upsertRecords(c: CollectionRow, records: ValidRecord[]): Promise<void> {
    const t = collectionTables(c.cid)
    const written = await this.#db.transaction(async (tx) => {
      const seq = await nextSequence(tx, c.cid)
      let existing = 0
      for (let i = 0; i < records.length; i += CHUNK) {
        const ids = records.slice(i, i + CHUNK).map((record) => record.id)
        const row = await tx.get<{ n: number }>(
          `SELECT count(*) AS n FROM ${t.vectors} WHERE id IN (${marks(ids.length)})`,
          ids,
        )
        existing += row?.n ?? 0
      }
      // Updating in place keeps the record's label, so the ANN index replaces its vector.
      const sql = `INSERT INTO ${t.vectors} (id, vector, metadata, text, seq) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET vector = excluded.vector, metadata = excluded.metadata,
        text = excluded.text, seq = excluded.seq`
      for (const record of records) {
        const metadata = record.metadata === undefined ? null : JSON.stringify(record.metadata)
        await tx.run(sql, [record.id, vectorToBytes(record.vector), metadata, record.text ?? null, seq])
      }
      await tx.run(`UPDATE ${REGISTRY} SET count = count + ? WHERE cid = ?`, [
        records.length - existing,
        c.cid,
      ])
      return { ...c, seq, count: c.count + records.length - existing }
    })
    this.#prepareIndex(written)
  }

  protected async searchRecords(c: CollectionRow, q: StoreQuery): Promise<VectorMatch[]> {
    if (q.mode !== 'vector' && !c.fts) {
      throw new StorageError(
        'UNSUPPORTED',
        `Collection "${c.name}" has no full-text index (its database had no FTS5/FTS4 when it was created); use mode 'vector'`,
      )
    }
    const where = q.filter && sqliteWhere(q.filter)
    let hits: Hit[]
    if (q.mode === 'vector') {
      hits = await this.#vectors.search(c, q.vector as Float32Array, q.topK, where)
    } else if (q.mode === 'text') {
      hits = await this.#text.search(c, q.text as string, q.topK, q.filter)
    } else {
      const depth = Math.max(q.topK, this.#hybridCandidates)
      const vectorHits = await this.#vectors.search(c, q.vector as Float32Array, depth, where, true)
      const textHits = await this.#text.search(c, q.text as string, depth, q.filter)
      const fused = reciprocalRankFusion([vectorHits.map(asItem), textHits.map(asItem)], {
        k: q.rrfK,
        limit: q.topK,
      })
      hits = fused.map((item) => ({ label: Number(item.id), score: item.score }))
    }
    return toMatches(this.#db, c, hits, q.includeVectors, this.#records)
  }

  protected async getRecords(c: CollectionRow, ids: string[]): Promise<VectorRecord[]> {
    const t = collectionTables(c.cid)
    const found: VectorRecord[] = []
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK)
      const rows = await this.#db.all<StoredRow>(
        `SELECT id, vector, metadata, text FROM ${t.vectors} WHERE id IN (${marks(chunk.length)})`,
        chunk,
      )
      found.push(...rows.map(toRecord))
    }
    return found
  }

  protected async deleteRecords(c: CollectionRow, target: StoreDeleteTarget): Promise<number> {
    const t = collectionTables(c.cid)
    const conditions: SqlFragment[] = []
    if ('ids' in target) {
      for (let i = 0; i < target.ids.length; i += CHUNK) {
        const chunk = target.ids.slice(i, i + CHUNK)
        conditions.push({ sql: `id IN (${marks(chunk.length)})`, params: chunk })
      }
    } else {
      conditions.push(sqliteWhere(target.filter))
    }
    const tombstones = this.#ann !== undefined
    return this.#db.transaction(async (tx) => {
      const seq = await nextSequence(tx, c.cid)
      let removed = 0
      for (const condition of conditions) {
        if (tombstones) {
          await tx.run(
            `INSERT OR REPLACE INTO ${t.gone} (label, seq) SELECT label, ? FROM ${t.vectors} WHERE ${condition.sql}`,
            [seq, ...condition.params],
          )
        }
        removed += (await tx.run(`DELETE FROM ${t.vectors} WHERE ${condition.sql}`, condition.params)).changes
      }
      // Without tombstones no index can catch up across this delete: move the floor so it rebuilds.
      const floor = tombstones ? '' : ', floor = seq'
      await tx.run(`UPDATE ${REGISTRY} SET count = count - ?${floor} WHERE cid = ?`, [removed, c.cid])
      return removed
    })
  }

  protected async countRecords(c: CollectionRow, filter: FilterNode | undefined): Promise<number> {
    if (filter === undefined) return c.count
    const where = sqliteWhere(filter)
    const row = await this.#db.get<{ n: number }>(
      `SELECT count(*) AS n FROM ${collectionTables(c.cid).vectors} WHERE ${where.sql}`,
      where.params,
    )
    return row?.n ?? 0
  }

  protected async *scanRecords(c: CollectionRow, options: StoreScanOptions): AsyncIterable<VectorRecord[]> {
    const where = options.filter && sqliteWhere(options.filter)
    const t = collectionTables(c.cid)
    const sql = `SELECT label, id, vector, metadata, text FROM ${t.vectors}
      WHERE label > ?${where ? ` AND ${where.sql}` : ''} ORDER BY label LIMIT ?`
    // Keyset pages in label order: records written meanwhile get higher labels, so none repeats.
    let after = 0
    while (true) {
      const rows = await this.#db.all<StoredRow & { label: number }>(sql, [
        after,
        ...(where?.params ?? []),
        options.batchSize,
      ])
      if (rows.length === 0) return
      yield rows.map(toRecord)
      if (rows.length < options.batchSize) return
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  protected async closeResources(): Promise<void> {
    // The adapter belongs to the caller; only the ANN indexes are this store's own.
    if (this.#tier) await (await this.#tier).close()
  }

  /**
   * Once a write brings a collection to `exactBelow`, starts whatever background build or
   * catch-up its index needs, so it is ready (or closer) by the next query. A failure here is
   * left for that query, which searches exactly and reports it in `annStatus`.
   */
  /** After this store's own write: starts the background index work it made due, without waiting; a failure is left for the next query. */
  #prepareIndex(c: CollectionRow): void {
    if (this.#ann?.buildAfterWrites) this.#indexWork(c, 0).catch(() => undefined)
  }

  /** The index work writes made due: a background build or catch-up, or applying up to `applyUpTo` records now. */
  async #indexWork(c: CollectionRow, applyUpTo: number): Promise<void> {
    if (this.#ann === undefined || c.count < this.#exactBelow) return
    await (await this.#annTier()).prepare(c, applyUpTo)
  }

  #annTier(): Promise<AnnTier> {
    const ann = this.#ann as CheckedAnnConfig
    if (!this.#tier) {
      const tier = openAnnTier(this.#db, ann)
      // A failed load (the sidecar is missing) is tried again by the next search.
      tier.catch(() => {
        if (this.#tier === tier) this.#tier = undefined
      })
      this.#tier = tier
    }
    return this.#tier
  }
}

async function findCollection(db: StorageAdapter, name: string): Promise<CollectionRow | undefined> {
  return db.get<CollectionRow>(`SELECT ${REGISTRY_COLUMNS} FROM ${REGISTRY} WHERE name = ?`, [name])
}

/** Bumps and returns the collection's change sequence; call it inside the writing transaction. */
async function nextSequence(tx: StorageAdapter, cid: number): Promise<number> {
  await tx.run(`UPDATE ${REGISTRY} SET seq = seq + 1 WHERE cid = ?`, [cid])
  const row = await tx.get<{ seq: number }>(`SELECT seq FROM ${REGISTRY} WHERE cid = ?`, [cid])
  return row?.seq as number
}

function asItem(hit: Hit): { id: string } {
  return { id: String(hit.label) }
}

function randomUid(): string {
  const bytes = new Uint8Array(8)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
