import {
  bytesToVector,
  type CollectionInfo,
  type CollectionSpec,
  collectionNotFound,
  type DeleteTarget,
  FILTER_OPERATORS,
  type Filter,
  type Metadata,
  pruneCommonTerms,
  reciprocalRankFusion,
  type SqlValue,
  type StorageAdapter,
  StorageError,
  specMismatch,
  type VectorCapabilities,
  type VectorMatch,
  type VectorQuery,
  type VectorRecord,
  type VectorStore,
  validateCollectionName,
  validateCollectionSpec,
  validateFilter,
  validateId,
  validateQuery,
  validateRecords,
  vectorToBytes,
} from '@engram/core'
import { type AnnIndexFactory, type AnnStatus, AnnTier } from './ann-tier.js'
import {
  type CollectionRow,
  collectionTables,
  createCollectionTables,
  dropCollectionTables,
  ensureRegistry,
  REGISTRY,
} from './collection-tables.js'
import { ExactCache } from './exact-cache.js'
import { createExactScorer } from './exact-scorer.js'
import { ftsMatchQuery } from './fts-match-query.js'
import { fts4Rank } from './fts4-rank.js'
import { type SqlFragment, translateSqliteFilter } from './sqlite-filter.js'
import { TopK } from './top-k.js'
import { viewVector } from './vector-view.js'

/** Settings for the ANN tier (an HNSW index beside the database file). */
export interface SqlVectorStoreAnnConfig {
  /**
   * The database file the adapter has open; each collection's index is `<path>.<collection>.hnsw`
   * (plus `.json` for its checkpoint), so two databases in one folder never share an index.
   * `':memory:'` keeps indexes in memory, as does an adapter whose persistence is `'memory'`.
   */
  path: string
  /** HNSW links per node. Default is `16`. */
  M?: number
  /** HNSW candidate list size while building. Default is `200`. */
  efConstruction?: number
  /** HNSW candidate list size while searching (at least `topK`). Default is `64`. */
  efSearch?: number
  /** Changes applied to an index that trigger writing it to disk; `close()` always does. Default is `10_000`. */
  persistEvery?: number
  /** Opens an index. Default is `createHnswIndex` from `@engram/hnsw-sidecar`. */
  createIndex?: AnnIndexFactory
  /** Deletes an index's files. Default is `removeHnswIndex` from `@engram/hnsw-sidecar`. */
  removeIndex?: (path: string) => Promise<void>
}

/** Options for `createSqlVectorStore`. */
export interface SqlVectorStoreConfig {
  /** Turns on the ANN tier; without it every search is exact. */
  ann?: SqlVectorStoreAnnConfig
  /** Records a collection needs before vector search switches from the exact scan to the ANN index. Default is `1000`. */
  annThreshold?: number
  /** Close the adapter when the store is closed. Default is `false`. */
  closeAdapter?: boolean
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
}

/** A `VectorStore` on a SQLite-dialect `StorageAdapter`, with the ANN tier's status on top. */
export interface SqlVectorStore extends VectorStore {
  /** Where a collection's ANN index stands (whether it is open, its size and the sequence it has applied). */
  annStatus(collection: string): Promise<AnnStatus>
}

/** Rows read per page by scans, so memory stays bounded whatever the collection's size. */
const PAGE = 2000
/** Ids per `IN (…)` list, well under SQLite's parameter limit. */
const CHUNK = 500
/** Each list fused by hybrid search holds at least this many candidates (more when `topK` is larger). */
const HYBRID_DEPTH = 1000
/** Terms whose document frequency a store remembers (per collection state) before it starts over. */
const FREQUENCY_CACHE = 10_000
const METRICS = ['cosine', 'dot', 'euclidean'] as const

interface Hit {
  label: number
  score: number
}

/**
 * Creates a `VectorStore` on any SQLite-dialect adapter (better-sqlite3 now, sql.js later):
 * vectors as little-endian Float32 blobs searched exactly in bounded pages, metadata filters
 * as `json_extract` SQL, full text through FTS5 (or FTS4), hybrid search fused with RRF, and,
 * with `ann`, an HNSW index that takes over past `annThreshold` records per collection.
 *
 * Each collection is a row in `engram_collections` and its own tables named by the row's
 * integer key (`engram_vec_<n>`, `engram_fts_<n>`, `engram_gone_<n>`).
 *
 * @example
 * const db = createSqliteNativeAdapter({ filename: 'app.db' })
 * const store = createSqlVectorStore(db, { ann: { path: 'app.db' } })
 */
export function createSqlVectorStore(
  adapter: StorageAdapter,
  config: SqlVectorStoreConfig = {},
): SqlVectorStore {
  if (adapter?.dialect !== 'sqlite') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `createSqlVectorStore needs a SQLite-dialect adapter, got ${adapter?.dialect}; for Postgres use @engram/postgres's PgVectorStore`,
    )
  }
  if (!adapter.capabilities.json) {
    throw new StorageError(
      'UNSUPPORTED',
      `The ${adapter.kind} adapter has no JSON functions, which metadata filters need`,
    )
  }
  const threshold = config.annThreshold ?? 1000
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new StorageError('INVALID_ARGUMENT', `annThreshold must be a positive integer, got ${threshold}`)
  }
  const pruneFrom = config.termPruningThreshold ?? 10_000
  if (!Number.isInteger(pruneFrom) || pruneFrom < 1) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `termPruningThreshold must be a positive integer, got ${pruneFrom}`,
    )
  }
  const fraction = config.commonTermFraction ?? 0.3
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `commonTermFraction must be a number above 0 and at most 1, got ${fraction}`,
    )
  }
  const cacheBytes = config.exactCacheBytes ?? 64 * 1024 * 1024
  if (!Number.isInteger(cacheBytes) || cacheBytes < 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `exactCacheBytes must be a whole number of bytes (0 turns the cache off), got ${cacheBytes}`,
    )
  }
  return new SqliteVectorStore(adapter, config, threshold)
}

class SqliteVectorStore implements SqlVectorStore {
  readonly kind: string
  readonly capabilities: VectorCapabilities
  readonly #db: StorageAdapter
  readonly #fts: 'fts5' | 'fts4' | null
  readonly #threshold: number
  readonly #pruneFrom: number
  readonly #commonFraction: number
  /** Collections whose term-statistics table (`fts5vocab`/`fts4aux`, in the temp schema) this store created. */
  readonly #termTables = new Set<number>()
  /** Document frequencies already read, valid while the collection's change sequence stays the same. */
  #frequencies: { cid: number; seq: number; terms: Map<string, number> } | undefined
  readonly #closeAdapter: boolean
  readonly #ann: SqlVectorStoreAnnConfig | undefined
  #tier: Promise<AnnTier> | undefined
  /** Decoded vectors for exact search, or `undefined` when `exactCacheBytes` is `0`. */
  readonly #cache: ExactCache | undefined
  #ready: Promise<void> | undefined
  #closed = false

  constructor(db: StorageAdapter, config: SqlVectorStoreConfig, threshold: number) {
    this.#db = db
    const fts = db.capabilities.fts
    this.#fts = fts === 'fts5' || fts === 'fts4' ? fts : null
    this.#threshold = threshold
    this.#pruneFrom = config.termPruningThreshold ?? 10_000
    this.#commonFraction = config.commonTermFraction ?? 0.3
    this.#closeAdapter = config.closeAdapter ?? false
    this.#ann = config.ann
    const cacheBytes = config.exactCacheBytes ?? 64 * 1024 * 1024
    this.#cache = cacheBytes > 0 ? new ExactCache(db, cacheBytes) : undefined
    if (config.ann && typeof config.ann.path !== 'string') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        "ann.path must be the database file the adapter opened, or ':memory:'",
      )
    }
    this.kind = `sql:${db.kind}`
    this.capabilities = {
      hybrid: this.#fts !== null,
      operators: FILTER_OPERATORS,
      metrics: METRICS,
      maxDimension: 65_535,
      exact: config.ann === undefined,
    }
  }

  async createCollection(name: string, spec: CollectionSpec): Promise<void> {
    await this.#start()
    validateCollectionName(name)
    const wanted = validateCollectionSpec(spec, this.capabilities.maxDimension)
    await this.#db.transaction(async (tx) => {
      const existing = await findCollection(tx, name)
      if (existing) {
        const current = { dimension: existing.dimension, metric: existing.metric }
        if (current.dimension !== wanted.dimension || current.metric !== wanted.metric) {
          throw specMismatch(name, current, wanted)
        }
        return
      }
      const result = await tx.run(
        `INSERT INTO ${REGISTRY} (name, uid, dimension, metric, fts) VALUES (?, ?, ?, ?, ?)`,
        [name, randomUid(), wanted.dimension, wanted.metric, this.#fts],
      )
      await createCollectionTables(tx, Number(result.lastInsertRowid), this.#fts)
    })
  }

  async describeCollection(name: string): Promise<CollectionInfo | undefined> {
    await this.#start()
    validateCollectionName(name)
    const row = await findCollection(this.#db, name)
    return row && { name: row.name, dimension: row.dimension, metric: row.metric, count: row.count }
  }

  async listCollections(): Promise<string[]> {
    await this.#start()
    const rows = await this.#db.all<{ name: string }>(`SELECT name FROM ${REGISTRY} ORDER BY name`)
    return rows.map((row) => row.name)
  }

  async dropCollection(name: string): Promise<void> {
    await this.#start()
    validateCollectionName(name)
    const dropped = await this.#db.transaction(async (tx) => {
      const row = await findCollection(tx, name)
      if (!row) return undefined
      // The term statistics read the FTS table, so they go first.
      if (this.#termTables.delete(row.cid)) {
        await tx.exec(`DROP TABLE IF EXISTS temp.${collectionTables(row.cid).text}_terms`)
      }
      await dropCollectionTables(tx, row.cid)
      await tx.run(`DELETE FROM ${REGISTRY} WHERE cid = ?`, [row.cid])
      return row.cid
    })
    if (dropped !== undefined) this.#cache?.drop(dropped)
    if (dropped !== undefined && this.#ann) await (await this.#annTier()).drop(name)
  }

  async upsert(collection: string, records: readonly VectorRecord[]): Promise<void> {
    const c = await this.#collection(collection)
    const valid = validateRecords(records, c.dimension)
    if (valid.length === 0) return
    const t = collectionTables(c.cid)
    await this.#db.transaction(async (tx) => {
      const seq = await nextSequence(tx, c.cid)
      let existing = 0
      for (let i = 0; i < valid.length; i += CHUNK) {
        const ids = valid.slice(i, i + CHUNK).map((record) => record.id)
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
      for (const record of valid) {
        const metadata = record.metadata === undefined ? null : JSON.stringify(record.metadata)
        await tx.run(sql, [record.id, vectorToBytes(record.vector), metadata, record.text ?? null, seq])
      }
      await tx.run(`UPDATE ${REGISTRY} SET count = count + ? WHERE cid = ?`, [valid.length - existing, c.cid])
    })
  }

  async query(collection: string, query: VectorQuery): Promise<VectorMatch[]> {
    const c = await this.#collection(collection)
    const q = validateQuery(query, c.dimension)
    const where = this.#where(q.filter)
    if ((q.mode === 'text' || q.mode === 'hybrid') && !c.fts) {
      throw new StorageError(
        'UNSUPPORTED',
        `Collection "${collection}" has no full-text index (its database had no FTS5/FTS4 when it was created); use mode 'vector'`,
      )
    }
    let hits: Hit[]
    if (q.mode === 'vector') {
      hits = await this.#vectorSearch(c, q.vector as Float32Array, q.topK, where)
    } else if (q.mode === 'text') {
      hits = q.text === undefined ? [] : await this.#textSearch(c, q.text, q.topK, q.filter)
    } else {
      const depth = Math.max(q.topK, HYBRID_DEPTH)
      const vectorHits = await this.#vectorSearch(c, q.vector as Float32Array, depth, where)
      const textHits = q.text === undefined ? [] : await this.#textSearch(c, q.text, depth, q.filter)
      const fused = reciprocalRankFusion([vectorHits.map(asItem), textHits.map(asItem)], {
        k: q.rrfK,
        limit: q.topK,
      })
      hits = fused.map((item) => ({ label: Number(item.id), score: item.score }))
    }
    return this.#matches(c, hits, q.includeVectors)
  }

  async get(collection: string, ids: readonly string[]): Promise<VectorRecord[]> {
    const c = await this.#collection(collection)
    const wanted = [...new Set(checkIds(ids))]
    const t = collectionTables(c.cid)
    const found = new Map<string, VectorRecord>()
    for (let i = 0; i < wanted.length; i += CHUNK) {
      const chunk = wanted.slice(i, i + CHUNK)
      const rows = await this.#db.all<StoredRow>(
        `SELECT id, vector, metadata, text FROM ${t.vectors} WHERE id IN (${marks(chunk.length)})`,
        chunk,
      )
      for (const row of rows) found.set(row.id, toRecord(row))
    }
    return wanted.flatMap((id) => found.get(id) ?? [])
  }

  async delete(collection: string, target: DeleteTarget): Promise<number> {
    const c = await this.#collection(collection)
    const t = collectionTables(c.cid)
    const conditions: SqlFragment[] = []
    if (typeof target === 'object' && target !== null && 'ids' in target) {
      const ids = [...new Set(checkIds(target.ids))]
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK)
        conditions.push({ sql: `id IN (${marks(chunk.length)})`, params: chunk })
      }
    } else if (typeof target === 'object' && target !== null && 'filter' in target) {
      conditions.push(this.#where(target.filter) ?? { sql: '1', params: [] })
    } else {
      throw new StorageError('INVALID_ARGUMENT', 'delete() takes { ids: [...] } or { filter: {...} }')
    }
    if (conditions.length === 0) return 0
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

  async count(collection: string, filter?: Filter): Promise<number> {
    const c = await this.#collection(collection)
    const where = this.#where(filter)
    if (!where) return c.count
    const row = await this.#db.get<{ n: number }>(
      `SELECT count(*) AS n FROM ${collectionTables(c.cid).vectors} WHERE ${where.sql}`,
      where.params,
    )
    return row?.n ?? 0
  }

  async *scan(
    collection: string,
    options: { filter?: Filter; batchSize?: number } = {},
  ): AsyncIterable<VectorRecord[]> {
    const c = await this.#collection(collection)
    const batchSize = options.batchSize ?? 100
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new StorageError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`)
    }
    const where = this.#where(options.filter)
    const t = collectionTables(c.cid)
    const clause = where ? ` AND ${where.sql}` : ''
    let after = 0
    while (true) {
      this.#checkOpen()
      const rows = await this.#db.all<StoredRow & { label: number }>(
        `SELECT label, id, vector, metadata, text FROM ${t.vectors} WHERE label > ?${clause} ORDER BY label LIMIT ?`,
        [after, ...(where?.params ?? []), batchSize],
      )
      if (rows.length === 0) return
      yield rows.map(toRecord)
      if (rows.length < batchSize) return
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  async annStatus(collection: string): Promise<AnnStatus> {
    const c = await this.#collection(collection)
    if (!this.#ann) return { open: false, size: 0, appliedSequence: 0, sequence: c.seq }
    return (await this.#annTier()).status(c)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      if (this.#tier) await (await this.#tier).close()
    } finally {
      if (this.#closeAdapter) await this.#db.close()
    }
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new StorageError(
        'CLOSED',
        'This vector store is closed; create a new one with createSqlVectorStore()',
      )
  }

  /** Checks the store is open and creates the registry once. */
  async #start(): Promise<void> {
    this.#checkOpen()
    this.#ready ??= ensureRegistry(this.#db).catch((error: unknown) => {
      this.#ready = undefined
      throw error
    })
    await this.#ready
  }

  async #collection(name: string): Promise<CollectionRow> {
    await this.#start()
    validateCollectionName(name)
    const row = await findCollection(this.#db, name)
    if (!row) throw collectionNotFound(name)
    return row
  }

  #where(filter: Filter | undefined, column = 'metadata'): SqlFragment | undefined {
    if (filter === undefined) return undefined
    const node = validateFilter(filter, { operators: this.capabilities.operators })
    if (node.kind === 'and' && node.children.length === 0) return undefined
    return translateSqliteFilter(node, column)
  }

  #annTier(): Promise<AnnTier> {
    const ann = this.#ann as SqlVectorStoreAnnConfig
    this.#tier ??= (async () => {
      let { createIndex, removeIndex } = ann
      if (!createIndex || !removeIndex) {
        const sidecar = await loadSidecar()
        createIndex ??= sidecar.createHnswIndex
        removeIndex ??= sidecar.removeHnswIndex
      }
      const inMemory = ann.path === ':memory:' || this.#db.capabilities.persistence === 'memory'
      return new AnnTier(this.#db, {
        databasePath: inMemory ? undefined : ann.path,
        createIndex,
        removeIndex,
        persistEvery: ann.persistEvery ?? 10_000,
        ...(ann.M === undefined ? {} : { M: ann.M }),
        ...(ann.efConstruction === undefined ? {} : { efConstruction: ann.efConstruction }),
        ...(ann.efSearch === undefined ? {} : { efSearch: ann.efSearch }),
      })
    })()
    this.#tier.catch(() => {
      this.#tier = undefined
    })
    return this.#tier
  }

  async #vectorSearch(
    c: CollectionRow,
    vector: Float32Array,
    k: number,
    where: SqlFragment | undefined,
  ): Promise<Hit[]> {
    if (!this.#ann || c.count < this.#threshold) return this.#exactSearch(c, vector, k, where)
    const t = collectionTables(c.cid)
    let accept: ((label: number) => boolean) | undefined
    if (where) {
      const rows = await this.#db.all<{ label: number }>(
        `SELECT label FROM ${t.vectors} WHERE ${where.sql}`,
        where.params,
      )
      // A selective filter leaves too few rows for a graph walk to be worth it.
      if (rows.length < this.#threshold) return this.#exactSearch(c, vector, k, where)
      const allowed = new Set(rows.map((row) => row.label))
      accept = (label) => allowed.has(label)
    }
    const tier = await this.#annTier()
    const candidates = await tier.search(c, vector, k, accept)
    // Re-score from the stored blobs so ANN scores are exactly the exact path's scores.
    const score = createExactScorer(c.metric, vector)
    const rows = await this.#rowsByLabel<{ label: number; vector: Uint8Array }>(
      c,
      'label, vector',
      candidates.map((hit) => hit.label),
    )
    return rows
      .map((row) => ({ label: row.label, score: score(viewVector(row.vector)) }))
      .sort((a, b) => b.score - a.score || a.label - b.label)
  }

  async #exactSearch(
    c: CollectionRow,
    vector: Float32Array,
    k: number,
    where: SqlFragment | undefined,
  ): Promise<Hit[]> {
    const t = collectionTables(c.cid)
    const score = createExactScorer(c.metric, vector)
    if (this.#cache?.fits(c)) {
      // Same scorer, same label order as the scan below, so the same scores and tie-breaks.
      const cached = new TopK(k)
      const labels = where
        ? (
            await this.#db.all<{ label: number }>(
              `SELECT label FROM ${t.vectors} WHERE ${where.sql} ORDER BY label`,
              where.params,
            )
          ).map((row) => row.label)
        : undefined
      if (await this.#cache.search(c, score, cached, labels)) return cached.sorted()
    }
    const top = new TopK(k)
    const sql = `SELECT label, vector FROM ${t.vectors} WHERE label > ?${where ? ` AND ${where.sql}` : ''} ORDER BY label LIMIT ${PAGE}`
    let after = 0
    while (true) {
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(sql, [
        after,
        ...(where?.params ?? []),
      ])
      for (const row of rows) top.push(row.label, score(viewVector(row.vector)))
      if (rows.length < PAGE) return top.sorted()
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  async #textSearch(c: CollectionRow, text: string, k: number, query: Filter | undefined): Promise<Hit[]> {
    const match = await this.#matchQuery(c, text)
    if (match === undefined) return []
    const t = collectionTables(c.cid)
    const where = this.#where(query, 'v.metadata')
    const filter = where ? ` AND ${where.sql}` : ''
    const params: SqlValue[] = [match, ...(where?.params ?? [])]
    // Triggers keep the FTS rows in step with the records, so only a filter needs the records
    // joined; the join costs a row lookup per match, most of an unfiltered query's time.
    const join = where ? ` JOIN ${t.vectors} AS v ON v.label = ${t.text}.rowid` : ''
    const from = `FROM ${t.text}${join} WHERE ${t.text} MATCH ?${filter}`
    if (c.fts === 'fts5') {
      const rows = await this.#db.all<{ label: number; rank: number }>(
        `SELECT ${t.text}.rowid AS label, bm25(${t.text}) AS rank ${from} ORDER BY rank, label LIMIT ?`,
        [...params, k],
      )
      return rows.map((row) => ({ label: row.label, score: -row.rank }))
    }
    // FTS4 has no bm25(): rank every match from matchinfo, keeping only the best k.
    const top = new TopK(k)
    for await (const row of this.#db.iterate<{ label: number; info: Uint8Array }>(
      `SELECT ${t.text}.rowid AS label, matchinfo(${t.text}, 'pcnalx') AS info ${from}`,
      params,
    )) {
      top.push(row.label, fts4Rank(row.info))
    }
    return top.sorted()
  }

  /**
   * The MATCH expression for `text`: every word, or on a collection of at least
   * `termPruningThreshold` records every word but the very common ones. Text mode and hybrid's
   * text list both come through here, so hybrid stays RRF over the text mode's list.
   */
  async #matchQuery(c: CollectionRow, text: string): Promise<string | undefined> {
    const match = ftsMatchQuery(text)
    if (match === undefined || c.count < this.#pruneFrom) return match
    // ftsMatchQuery quotes whole words (letters, digits, marks), so no term holds a quote or a space.
    const terms = match.split(' OR ').map((quoted) => quoted.slice(1, -1))
    if (terms.length < 2) return match
    const frequencies = await this.#documentFrequencies(c, terms)
    const kept = pruneCommonTerms(terms, frequencies, c.count, this.#commonFraction)
    return kept.length === terms.length ? match : ftsMatchQuery(kept.join(' '))
  }

  /**
   * How many records hold each term, read from the FTS index's own statistics (an `fts5vocab` or
   * `fts4aux` table over it), one indexed lookup per term, remembered until the collection changes.
   * The statistics table lives in the connection's temp schema, so the database file is never
   * changed and read-only files work.
   */
  async #documentFrequencies(c: CollectionRow, terms: readonly string[]): Promise<Map<string, number>> {
    let cache = this.#frequencies
    if (cache?.cid !== c.cid || cache.seq !== c.seq || cache.terms.size > FREQUENCY_CACHE) {
      cache = { cid: c.cid, seq: c.seq, terms: new Map() }
      this.#frequencies = cache
    }
    const known = cache.terms
    const missing = terms.filter((term) => !known.has(term))
    if (missing.length === 0) return known
    const t = collectionTables(c.cid)
    const stats = `temp.${t.text}_terms`
    if (!this.#termTables.has(c.cid)) {
      const using = c.fts === 'fts5' ? `fts5vocab(main, ${t.text}, row)` : `fts4aux(main, ${t.text})`
      await this.#db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${stats} USING ${using}`)
      this.#termTables.add(c.cid)
    }
    const sql =
      c.fts === 'fts5'
        ? `SELECT term, doc AS n FROM ${stats} WHERE term IN (${marks(missing.length)})`
        : `SELECT term, documents AS n FROM ${stats} WHERE col = '*' AND term IN (${marks(missing.length)})`
    const rows = await this.#db.all<{ term: string; n: number }>(sql, missing)
    for (const term of missing) known.set(term, 0)
    for (const row of rows) known.set(row.term, Number(row.n))
    return known
  }

  async #rowsByLabel<T>(c: CollectionRow, columns: string, labels: readonly number[]): Promise<T[]> {
    const t = collectionTables(c.cid)
    const out: T[] = []
    for (let i = 0; i < labels.length; i += CHUNK) {
      const chunk = labels.slice(i, i + CHUNK)
      out.push(
        ...(await this.#db.all<T>(
          `SELECT ${columns} FROM ${t.vectors} WHERE label IN (${marks(chunk.length)})`,
          chunk,
        )),
      )
    }
    return out
  }

  async #matches(c: CollectionRow, hits: readonly Hit[], includeVectors: boolean): Promise<VectorMatch[]> {
    const columns = `label, id, metadata, text${includeVectors ? ', vector' : ''}`
    const rows = await this.#rowsByLabel<StoredRow & { label: number }>(
      c,
      columns,
      hits.map((hit) => hit.label),
    )
    const byLabel = new Map(rows.map((row) => [row.label, row]))
    return hits.flatMap((hit) => {
      const row = byLabel.get(hit.label)
      if (!row) return []
      const match: VectorMatch = { id: row.id, score: hit.score }
      if (row.metadata !== null) match.metadata = JSON.parse(row.metadata) as Metadata
      if (row.text !== null) match.text = row.text
      if (includeVectors) match.vector = bytesToVector(row.vector)
      return [match]
    })
  }
}

interface StoredRow {
  id: string
  vector: Uint8Array
  metadata: string | null
  text: string | null
}

function toRecord(row: StoredRow): VectorRecord {
  const record: VectorRecord = { id: row.id, vector: bytesToVector(row.vector) }
  if (row.metadata !== null) record.metadata = JSON.parse(row.metadata) as Metadata
  if (row.text !== null) record.text = row.text
  return record
}

async function findCollection(db: StorageAdapter, name: string): Promise<CollectionRow | undefined> {
  return db.get<CollectionRow>(
    `SELECT cid, name, uid, dimension, metric, fts, seq, floor, count FROM ${REGISTRY} WHERE name = ?`,
    [name],
  )
}

/** Bumps and returns the collection's change sequence; call it inside the writing transaction. */
async function nextSequence(tx: StorageAdapter, cid: number): Promise<number> {
  await tx.run(`UPDATE ${REGISTRY} SET seq = seq + 1 WHERE cid = ?`, [cid])
  const row = await tx.get<{ seq: number }>(`SELECT seq FROM ${REGISTRY} WHERE cid = ?`, [cid])
  return row?.seq as number
}

function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new StorageError('INVALID_ARGUMENT', 'ids must be an array of strings')
  return ids.map((id) => validateId(id))
}

function marks(n: number): string {
  return new Array(n).fill('?').join(', ')
}

function asItem(hit: Hit): { id: string } {
  return { id: String(hit.label) }
}

function randomUid(): string {
  const bytes = new Uint8Array(8)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

interface SidecarModule {
  createHnswIndex: AnnIndexFactory
  removeHnswIndex: (path: string) => Promise<void>
}

async function loadSidecar(): Promise<SidecarModule> {
  try {
    return (await import(/* @vite-ignore */ '@engram/hnsw-sidecar')) as SidecarModule
  } catch (error) {
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      'The ANN tier needs @engram/hnsw-sidecar: run `pnpm add @engram/hnsw-sidecar`, or leave out the ann option',
      { cause: error },
    )
  }
}
