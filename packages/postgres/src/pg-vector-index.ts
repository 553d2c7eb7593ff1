import { collectionNotFound, type StorageAdapter, StorageError, type VectorMetric } from '@engram/core'
import type { PgVectorSettings } from './pg-vector-config.js'
import { hasAtLeast } from './pg-vector-records.js'
import {
  causeCode,
  INSUFFICIENT_PRIVILEGE,
  type PgCollection,
  type PgVectorRegistry,
} from './pg-vector-registry.js'

/** pgvector's HNSW limits: `vector` up to 2,000 dimensions, `halfvec` up to 4,000. */
const MAX_VECTOR_INDEX = 2_000
const MAX_HALFVEC_INDEX = 4_000
/** The largest `hnsw.ef_search` pgvector accepts. */
const MAX_EF_SEARCH = 1_000
/** How long after a failed background build searches wait before they start another. */
const RETRY_AFTER_MS = 60_000

/** Where a collection's HNSW index stands, from `PgVectorStore.indexStatus`. */
export interface PgIndexStatus {
  /** Whether the collection can have an HNSW index: `false` above 4,000 dimensions, where search is always exact. */
  indexable: boolean
  /** Whether the index exists on the server, whoever built it. */
  present: boolean
  /** Whether this store is building it in the background now; its searches are exact meanwhile. */
  building: boolean
  /**
   * Why this store's last background build failed, until a build succeeds. Searches stay exact
   * and start another build no sooner than a minute after the failure; `buildIndex` tries at once.
   */
  error?: string
  /** When that build failed. */
  failedAt?: Date
}

const OPERATOR: Readonly<Record<VectorMetric, string>> = { cosine: '<=>', dot: '<#>', euclidean: '<->' }
const OPCLASS: Readonly<Record<VectorMetric, string>> = {
  cosine: 'cosine_ops',
  dot: 'ip_ops',
  euclidean: 'l2_ops',
}

/**
 * The ORDER BY expression the collection's HNSW index answers: the distance to the bound `:q`,
 * on `halfvec` above 2,000 dimensions, as the index was built. `:q` carries no cast of its own:
 * the operator gives it its type, so the server parses the vector's text once per statement, not
 * once per place it appears.
 */
export function distanceSql(collection: PgCollection): string {
  const op = OPERATOR[collection.metric]
  if (collection.dimension <= MAX_VECTOR_INDEX) return `t.embedding ${op} :q`
  const half = `halfvec(${collection.dimension})`
  return `(t.embedding::${half}) ${op} (:q::vector::${half})`
}

/**
 * A condition that sets the HNSW search options for the rest of the statement's transaction:
 * `hnsw.ef_search` to the bound `:ef`, and `hnsw.iterative_scan`, which keeps walking the graph
 * until a filtered query has its rows. Put first in the WHERE clause of the search. pgvector reads
 * `ef_search` when an index scan fetches its first tuple and `iterative_scan` whenever the scan runs
 * out of candidates, both during execution, never at planning. The `set_config` calls are an
 * uncorrelated scalar subquery, so PostgreSQL runs them as an InitPlan, and a condition on nothing
 * but that InitPlan is a one-time filter, checked before the node below it (the index scan) is asked
 * for its first row: the settings are in place before pgvector reads them. `set_config(…, true)`
 * lasts until the statement's own transaction ends (its implicit one, or the operation's), so the
 * search needs no BEGIN, SET LOCAL or COMMIT of its own and leaves a pooled connection as it was.
 */
export const HNSW_SETTINGS = `(SELECT set_config('hnsw.ef_search', :ef, true) || set_config('hnsw.iterative_scan', 'relaxed_order', true)) IS NOT NULL`

/**
 * Each collection's HNSW index: built once it is needed (by the first search that takes the HNSW
 * path, or by `buildIndex`), because building the graph once from all rows is many times faster
 * than maintaining it on every insert; and the choice, per search, between it and an exact scan.
 * With `buildIndexInBackground` that first search starts the build on the store's own adapter
 * and is answered exactly, as every search is until the build has finished.
 */
export class PgHnswIndex {
  readonly #registry: PgVectorRegistry
  readonly #settings: PgVectorSettings
  /** The store's adapter, outside any operation's transaction: where background builds run. */
  readonly #root: StorageAdapter
  /** Background builds running, by table. */
  readonly #building = new Map<string, Promise<void>>()
  /** Tables known to have their HNSW index, so the catalog is not asked again. */
  readonly #indexed = new Set<string>()
  /** Tables seen with at least `exactBelow` records for this tenant; they stay on HNSW. */
  readonly #large = new Set<string>()
  /** Tables this store's role cannot build the index on (it does not own them). */
  readonly #unbuildable = new Set<string>()
  /** The last failed background build of each table, until a build succeeds. */
  readonly #failures = new Map<string, { error: unknown; at: number }>()

  constructor(registry: PgVectorRegistry, settings: PgVectorSettings, root: StorageAdapter) {
    this.#registry = registry
    this.#settings = settings
    this.#root = root
  }

  /**
   * Builds the collection's HNSW index unless it exists, with the `m` and `ef_construction` the
   * registry recorded for it. Runs in its own transaction (a savepoint inside an operation's
   * transaction), so a failed build leaves the caller's intact.
   */
  async build(collection: PgCollection): Promise<void> {
    // Above 4,000 dimensions there is no index: search is always exact.
    if (collection.dimension > MAX_HALFVEC_INDEX || this.#indexed.has(collection.table)) return
    const found = await this.#registry.indexState(collection.db, collection)
    if (found === undefined) throw collectionNotFound(collection.name) // dropped meanwhile
    if (!found.present) {
      const ddl = indexDdl(collection, found.m, found.ef)
      await collection.db.transaction(async (tx) => {
        // Concurrent builders queue here; the later ones find the index and skip (IF NOT EXISTS).
        await tx.get(
          `SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked, set_config('maintenance_work_mem', :memory, true) AS memory`,
          { key: `${collection.table}.hnsw`, memory: this.#settings.indexBuildMemory },
        )
        await tx.exec(ddl)
      })
    }
    this.#indexed.add(collection.table)
    this.#failures.delete(collection.table)
  }

  /** Where the collection's index stands: on the server, and in this store's background builds. */
  async status(collection: PgCollection): Promise<PgIndexStatus> {
    const { table } = collection
    const indexable = collection.dimension <= MAX_HALFVEC_INDEX
    let present = indexable && this.#indexed.has(table)
    if (indexable && !present) {
      const found = await this.#registry.indexState(collection.db, collection)
      if (found === undefined) throw collectionNotFound(collection.name)
      present = found.present
    }
    const status: PgIndexStatus = { indexable, present, building: this.#building.has(table) }
    const failure = this.#failures.get(table)
    if (failure !== undefined) {
      status.error = failure.error instanceof Error ? failure.error.message : String(failure.error)
      status.failedAt = new Date(failure.at)
    }
    return status
  }

  /**
   * How far a search must count the tenant's records before `use` can choose (0 when it knows):
   * `exactBelow` until the collection was seen that large.
   */
  sizeLimit(collection: PgCollection): number {
    if (collection.dimension > MAX_HALFVEC_INDEX || this.#large.has(collection.table)) return 0
    return this.#settings.exactBelow
  }

  /**
   * Whether a vector search takes the HNSW path: only on collections that can have an index and
   * hold at least `exactBelow` records for the tenant (`size`, when the caller already counted
   * them up to `sizeLimit`). On that path the index is built first; a role that does not own the
   * table cannot build it, and its searches stay correct, as exact scans, until the owner calls
   * `buildIndex` (this store does not try again).
   */
  async use(collection: PgCollection, size?: number): Promise<boolean> {
    if (collection.dimension > MAX_HALFVEC_INDEX) return false
    const { exactBelow, tenant } = this.#settings
    const { table } = collection
    if (!this.#large.has(table)) {
      if (exactBelow > 0) {
        const large =
          size === undefined ? await hasAtLeast(collection, tenant, exactBelow) : size >= exactBelow
        if (!large) return false
      }
      this.#large.add(table)
    }
    if (this.#indexed.has(table) || this.#unbuildable.has(table)) return true
    if (this.#settings.buildIndexInBackground) {
      this.#startBuild(collection)
      return false
    }
    await this.#buildUnlessForbidden(collection)
    return true
  }

  /** Waits for the background build of `table` if one is running (it may have failed; it throws nothing). */
  async settled(table: string): Promise<void> {
    await this.#building.get(table)
  }

  /** Waits for every background build running now. */
  async settleAll(): Promise<void> {
    await Promise.all(this.#building.values())
  }

  /**
   * Starts the collection's build in the background unless one is running or the last one failed
   * less than a minute ago; searches stay exact until a build ends.
   */
  #startBuild(collection: PgCollection): void {
    const { table } = collection
    if (this.#building.has(table)) return
    const failure = this.#failures.get(table)
    if (failure !== undefined && Date.now() - failure.at < RETRY_AFTER_MS) return
    // Its own transaction on the root adapter: the search that started it may be in one that ends first.
    const own: PgCollection = { ...collection, db: this.#root, inTransaction: false }
    const running = this.#buildUnlessForbidden(own)
      // A failed build leaves no index (CREATE INDEX rolls back). It is kept for `status`, and a
      // search a minute later tries again: a build that keeps failing does not rerun on every search.
      .catch((error: unknown) => {
        this.#failures.set(table, { error, at: Date.now() })
      })
      .finally(() => this.#building.delete(table))
    this.#building.set(table, running)
  }

  /** Builds the index; a role that may not (it does not own the table) is remembered, and searches it exactly. */
  async #buildUnlessForbidden(collection: PgCollection): Promise<void> {
    try {
      await this.build(collection)
    } catch (error) {
      if (causeCode(error) !== INSUFFICIENT_PRIVILEGE) throw error
      this.#unbuildable.add(collection.table)
    }
  }

  /** The `hnsw.ef_search` for a search of `topK`: `efSearch`, raised to topK, at most 1,000. */
  efSearch(topK: number): string {
    return String(Math.min(MAX_EF_SEARCH, Math.max(this.#settings.efSearch, topK)))
  }
}

/** The HNSW index's DDL; only validated integers and fixed words are spliced in. */
function indexDdl(collection: PgCollection, m: number, efConstruction: number): string {
  const { table, relation, dimension, metric } = collection
  const head = `CREATE INDEX IF NOT EXISTS "${relation}_hnsw" ON ${table} USING hnsw`
  const options = `WITH (m = ${registryInteger(m)}, ef_construction = ${registryInteger(efConstruction)})`
  if (dimension <= MAX_VECTOR_INDEX) return `${head} (embedding vector_${OPCLASS[metric]}) ${options}`
  // Half precision in the index, full precision in the table.
  return `${head} ((embedding::halfvec(${dimension})) halfvec_${OPCLASS[metric]}) ${options}`
}

/** A registry integer, checked before it is spliced into DDL. */
function registryInteger(value: unknown): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `expected a positive integer in the registry, got ${String(value)}`,
    )
  }
  return n
}
