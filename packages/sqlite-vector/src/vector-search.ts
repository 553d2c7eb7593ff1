import type { StorageAdapter } from '@engram/core'
import type { AnnTier } from './ann-tier.js'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import type { ExactCache } from './exact-cache.js'
import { createExactScorer } from './exact-scorer.js'
import type { Hit } from './record-rows.js'
import type { SqlFragment } from './sqlite-filter.js'
import { TopK } from './top-k.js'
import { viewVector } from './vector-view.js'

/** Rows read per page by the exact scan, so memory stays bounded whatever the collection's size. */
const PAGE = 2000

/** What vector search needs from the store. */
export interface VectorSearchConfig {
  /** Records a collection (or a filter's selection) needs before the ANN index answers. */
  exactBelow: number
  /** Decoded vectors for exact search, or `undefined` when the cache is off. */
  cache: ExactCache | undefined
  /** The ANN tier, opened on first use, or `undefined` when the store has none. */
  annTier: (() => Promise<AnnTier>) | undefined
}

/**
 * Vector search on one database: an exact scan (from the cache when the collection fits it, else
 * from the database in pages) below `exactBelow` records, the ANN index at or above it. ANN hits
 * carry the index's own scores (Float32 arithmetic, within about 1e-6 of the exact scan's), so
 * a query reads no vectors back from the database.
 */
export class VectorSearch {
  readonly #db: StorageAdapter
  readonly #exactBelow: number
  readonly #cache: ExactCache | undefined
  readonly #annTier: (() => Promise<AnnTier>) | undefined

  constructor(db: StorageAdapter, { exactBelow, cache, annTier }: VectorSearchConfig) {
    this.#db = db
    this.#exactBelow = exactBelow
    this.#cache = cache
    this.#annTier = annTier
  }

  /**
   * The `k` best records for `vector` among those `where` selects, best first with equal scores
   * by label: exact scores below `exactBelow`, the index's own scores at or above it. With
   * `candidates` (hybrid's vector list) an unfiltered graph walk that finds fewer than `k` is
   * taken as it is rather than answered again by an exact scan of the whole collection.
   */
  async search(
    c: CollectionRow,
    vector: Float32Array,
    k: number,
    where: SqlFragment | undefined,
    candidates = false,
  ): Promise<Hit[]> {
    const annTier = this.#annTier
    const exactBelow = this.#exactBelow
    if (!annTier || c.count < exactBelow) return this.#exact(c, vector, k, where)
    let accept: ((label: number) => boolean) | undefined
    let selected: number[] | undefined
    if (where) {
      selected = await this.#selection(c, where)
      // A selective filter leaves too few rows for a graph walk to be worth it.
      if (selected.length < exactBelow) return this.#exact(c, vector, k, where, selected)
      const allowed = new Set(selected)
      accept = (label) => allowed.has(label)
    }
    const tier = await annTier()
    const found = await tier.search(c, vector, k, accept)
    // The index is being built in the background: exact search answers until it is ready. A
    // graph walk under a filter can also run out of matching neighbours before it has `k`, and
    // one without a filter can miss records it cannot reach (many identical vectors connect
    // poorly); then exact search finds them all, so a query never returns fewer records than
    // match. Hybrid's candidates need not be complete: there a scan of every record (hundreds of
    // milliseconds at 100,000) would cost far more than the few candidates it adds.
    const short = found !== undefined && found.length < Math.min(k, selected?.length ?? c.count)
    if (found === undefined || (short && !(candidates && where === undefined))) {
      return this.#exact(c, vector, k, where, selected)
    }
    // Best first, equal scores by label as on the exact path, whatever order the index returns.
    return found.sort((a, b) => b.score - a.score || a.label - b.label)
  }

  /** The labels of the records `where` selects, ascending. */
  async #selection(c: CollectionRow, where: SqlFragment): Promise<number[]> {
    const rows = await this.#db.all<{ label: number }>(
      `SELECT label FROM ${collectionTables(c.cid).vectors} WHERE ${where.sql} ORDER BY label`,
      where.params,
    )
    return rows.map((row) => row.label)
  }

  /** Exact search; `selected` is the filter's selection when the caller has already read it. */
  async #exact(
    c: CollectionRow,
    vector: Float32Array,
    k: number,
    where: SqlFragment | undefined,
    selected?: number[],
  ): Promise<Hit[]> {
    const t = collectionTables(c.cid)
    const cache = this.#cache
    if (cache?.fits(c)) {
      // Exact scores from the same scorer, kept by the same rule as the scan below.
      const cached = new TopK(k)
      const labels = where ? (selected ?? (await this.#selection(c, where))) : undefined
      if (await cache.search(c, vector, cached, labels)) return cached.sorted()
    }
    const score = createExactScorer(c.metric, vector)
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
}
