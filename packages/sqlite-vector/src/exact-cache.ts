import { Mutex, type StorageAdapter } from '@engram/core'
import { changedRows, countChanged, goneSince } from './changed-rows.js'
import { type CollectionRow, collectionTables, currentRow } from './collection-tables.js'
import { createExactScorer } from './exact-scorer.js'
import { FloatVectors } from './float-vectors.js'
import { QuantizedVectors } from './quantized-vectors.js'
import { CHUNK, marks } from './record-rows.js'
import type { TopK } from './top-k.js'
import { viewVector } from './vector-view.js'

/** Rows read per page while loading, as the streaming scan does. */
const PAGE = 2000
/**
 * Past this share of the records to re-score, the quantized first pass has not narrowed the
 * search enough (a zero query vector, near-duplicate data), and a scan of every record is
 * cheaper than picking that many out one by one.
 */
const MOST_CANDIDATES = 0.2

type Entry = FloatVectors | QuantizedVectors

/**
 * A store's exact-search cache: each collection's vectors, loaded on its first exact query and
 * kept within `budget` bytes for all collections together (least recently used go first). Every
 * query is narrowed down by a quantized first pass (one byte per number), and the few records
 * that can be among the best are then scored exactly: from Float32 copies in memory when the
 * collection fits with them, else from their stored vectors. Before each use the cache
 * compares the cached sequence with the registry row the query already read, and applies the
 * rows and tombstones written since, by any store or process; when that is not possible (pruned
 * tombstones, or deletes that left none) it reloads.
 */
export class ExactCache {
  readonly #db: StorageAdapter
  readonly #budget: number
  /** Least recently used first. */
  readonly #entries = new Map<number, Entry>()
  /** Loads and catch-ups apply in the order they read, so the cache never goes back in time. */
  readonly #mutex = new Mutex()

  constructor(db: StorageAdapter, budget: number) {
    this.#db = db
    this.#budget = budget
  }

  /** Whether the collection's vectors can be cached at all (quantized, if not as Float32). */
  fits(c: CollectionRow): boolean {
    return QuantizedVectors.bytesFor(c.count, c.dimension) <= this.#budget
  }

  /** Forgets a collection (it was dropped). */
  drop(cid: number): void {
    this.#entries.delete(cid)
  }

  /**
   * Scores the collection's records (or only `labels`, in label order) for `query` into `top`
   * with exact scores. Returns `false` when the collection does not fit the budget, changed under
   * a filtered query, or the quantized pass left too many records; the caller then scans.
   */
  async search(
    c: CollectionRow,
    query: Float32Array,
    top: TopK,
    labels?: readonly number[],
  ): Promise<boolean> {
    if (!this.fits(c)) {
      this.#entries.delete(c.cid)
      return false
    }
    const score = createExactScorer(c.metric, query)
    const wanted = labels === undefined ? undefined : new Set(labels)
    let scored = false
    // A load reads every vector anyway, so it scores them on the way: the first query costs a scan.
    const visit = (label: number, vector: Float32Array) => {
      if (wanted === undefined || wanted.has(label)) top.push(label, score(vector))
    }
    await this.#mutex.acquire()
    let entry: Entry
    try {
      entry = await this.#current(c, () => {
        scored = true
        return visit
      })
    } finally {
      this.#mutex.release()
    }
    if (scored) return true
    const rows = entry.candidates(c.metric, query, top.k, labels)
    if (rows === undefined) return false
    const considered = labels?.length ?? entry.size
    const narrowed = rows.length <= Math.max(top.k, considered * MOST_CANDIDATES)
    // Float32 in memory: re-score the candidates, or every record when the pass did not narrow.
    if (entry instanceof FloatVectors) {
      if (!narrowed) return entry.search(score, top, labels)
      entry.scoreRows(score, top, rows)
      return true
    }
    if (!narrowed) return false
    await this.#rescore(
      c,
      query,
      rows.map((row) => entry.labels[row] as number),
      top,
    )
    return true
  }

  /** Scores the candidates exactly from their stored vectors, in label order like the scan. */
  async #rescore(c: CollectionRow, query: Float32Array, candidates: number[], top: TopK): Promise<void> {
    const score = createExactScorer(c.metric, query)
    const t = collectionTables(c.cid)
    for (let i = 0; i < candidates.length; i += CHUNK) {
      const chunk = candidates.slice(i, i + CHUNK)
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(
        `SELECT label, vector FROM ${t.vectors} WHERE label IN (${marks(chunk.length)}) ORDER BY label`,
        chunk,
      )
      // A record deleted since the first pass is simply gone, as it would be from a later scan.
      for (const row of rows) top.push(row.label, score(viewVector(row.vector)))
    }
  }

  /** The collection's entry, caught up; a load calls `loading` first and shows it every vector it reads. */
  async #current(
    c: CollectionRow,
    loading: () => (label: number, vector: Float32Array) => void,
  ): Promise<Entry> {
    let entry = this.#entries.get(c.cid)
    this.#entries.delete(c.cid)
    if (entry && (entry.uid !== c.uid || entry.dimension !== c.dimension)) entry = undefined
    // Float32 vectors that no longer fit are loaded again in the quantized form.
    if (entry instanceof FloatVectors && !this.#floatFits(c)) entry = undefined
    if (entry && entry.seq !== c.seq) {
      entry = c.floor > entry.seq ? undefined : await this.#catchUp(entry, c)
    }
    entry ??= await this.#load(c, loading())
    // Grown past the budget: still right for this query, but not kept.
    if (entry.bytes > this.#budget) return entry
    this.#entries.set(c.cid, entry)
    this.#evict()
    return entry
  }

  #floatFits(c: CollectionRow): boolean {
    return FloatVectors.bytesFor(c.count, c.dimension) <= this.#budget
  }

  async #load(c: CollectionRow, visit: (label: number, vector: Float32Array) => void): Promise<Entry> {
    const float = this.#floatFits(c)
    // Make room first, so the evicted copies and the new one are not all held at once.
    const needed = float
      ? FloatVectors.bytesFor(c.count, c.dimension)
      : QuantizedVectors.bytesFor(c.count, c.dimension)
    for (const cid of [...this.#entries.keys()]) {
      if (needed + this.#used() <= this.#budget) break
      this.#entries.delete(cid)
    }
    const entry = float ? new FloatVectors(c) : new QuantizedVectors(c)
    const t = collectionTables(c.cid)
    let after = 0
    while (true) {
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(
        `SELECT label, vector FROM ${t.vectors} WHERE label > ? ORDER BY label LIMIT ${PAGE}`,
        [after],
      )
      for (const row of rows) {
        const vector = viewVector(row.vector)
        entry.put(row.label, vector)
        visit(row.label, vector)
      }
      if (rows.length < PAGE) return entry
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  /** Applies the rows written and the tombstones left since `entry.seq`; `undefined` if it cannot. */
  async #catchUp(entry: Entry, c: CollectionRow): Promise<Entry | undefined> {
    const t = collectionTables(c.cid)
    const from = entry.seq
    let rows: Array<{ label: number; vector: Uint8Array }> = []
    const few = Math.max(PAGE, Math.floor(c.count / 8))
    if ((await countChanged(this.#db, t.vectors, from, few)) <= few) {
      // A few changed rows: found through the seq index, then put in label order.
      for await (const page of changedRows<{ label: number; seq: number; vector: Uint8Array }>(
        this.#db,
        t.vectors,
        'label, vector',
        from,
        PAGE,
      )) {
        rows.push(...page)
      }
      rows.sort((a, b) => a.label - b.label)
    } else {
      rows = await this.#db.all(`SELECT label, vector FROM ${t.vectors} WHERE seq > ? ORDER BY label`, [from])
    }
    const gone = await goneSince(this.#db, t.gone, from)
    // Tombstones above `from` may have been pruned since `c` was read: the floor, read after them, says.
    if (((await currentRow(this.#db, c))?.floor ?? Number.POSITIVE_INFINITY) > from) return undefined
    for (const row of rows) if (!entry.put(row.label, viewVector(row.vector))) return undefined
    if (gone.length > 0) entry.remove(new Set(gone))
    // The reads saw at least the state at `c.seq`; an entry already ahead of it stays ahead.
    entry.seq = Math.max(entry.seq, c.seq)
    return entry
  }

  #used(): number {
    let total = 0
    for (const entry of this.#entries.values()) total += entry.bytes
    return total
  }

  #evict(): void {
    let total = this.#used()
    for (const [cid, entry] of this.#entries) {
      if (total <= this.#budget) return
      total -= entry.bytes
      this.#entries.delete(cid)
    }
  }
}
