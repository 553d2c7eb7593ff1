import { Mutex, type StorageAdapter } from '@engram/core'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import type { TopK } from './top-k.js'
import { viewVector } from './vector-view.js'

/** Rows read per page while loading, as the streaming scan does. */
const PAGE = 2000
/** Bytes a cached record costs besides its vector: its label, plus its entry in the label index. */
const PER_RECORD = 8 + 48

/**
 * One collection's vectors decoded into a contiguous Float32Array in label order, with the
 * parallel labels. It holds every change up to the collection's sequence `seq`.
 */
class CollectionVectors {
  readonly uid: string
  readonly dimension: number
  seq: number
  size = 0
  vectors: Float32Array
  labels: Float64Array
  /** Label → row, built on first use (filtered queries and catch-up). */
  #rows: Map<number, number> | undefined

  constructor(c: CollectionRow) {
    this.uid = c.uid
    this.dimension = c.dimension
    this.seq = c.seq
    const capacity = Math.max(16, c.count)
    this.vectors = new Float32Array(capacity * c.dimension)
    this.labels = new Float64Array(capacity)
  }

  get bytes(): number {
    return this.vectors.byteLength + this.labels.byteLength + (this.#rows ? this.size * (PER_RECORD - 8) : 0)
  }

  rows(): Map<number, number> {
    if (!this.#rows) {
      this.#rows = new Map()
      for (let i = 0; i < this.size; i++) this.#rows.set(this.labels[i] as number, i)
    }
    return this.#rows
  }

  /** Writes a record's vector: in place if the label is cached, else after the last row. Returns `false` if the label would break label order. */
  put(label: number, bytes: Uint8Array): boolean {
    let row = this.#rows?.get(label)
    if (row === undefined) {
      if (this.size > 0 && label <= (this.labels[this.size - 1] as number)) {
        row = this.rows().get(label)
        if (row === undefined) return false
      } else {
        row = this.#append(label)
      }
    }
    this.vectors.set(viewVector(bytes), row * this.dimension)
    return true
  }

  /** Drops the given labels, keeping the rest in label order. */
  remove(labels: ReadonlySet<number>): void {
    let kept = 0
    const d = this.dimension
    for (let i = 0; i < this.size; i++) {
      if (labels.has(this.labels[i] as number)) continue
      if (kept !== i) {
        this.labels[kept] = this.labels[i] as number
        this.vectors.copyWithin(kept * d, i * d, (i + 1) * d)
      }
      kept++
    }
    if (kept !== this.size) this.#rows = undefined
    this.size = kept
  }

  /** Scores every cached row (or only `labels`, in label order) into `top`, in label order like the scan. Returns `false` if a label is not cached. */
  search(score: (vector: Float32Array) => number, top: TopK, labels?: readonly number[]): boolean {
    const d = this.dimension
    if (labels === undefined) {
      for (let i = 0; i < this.size; i++) {
        top.push(this.labels[i] as number, score(this.vectors.subarray(i * d, (i + 1) * d)))
      }
      return true
    }
    const rows = this.rows()
    for (const label of labels) {
      const i = rows.get(label)
      if (i === undefined) return false
      top.push(label, score(this.vectors.subarray(i * d, (i + 1) * d)))
    }
    return true
  }

  #append(label: number): number {
    if (this.size === this.labels.length) {
      const capacity = this.labels.length * 2
      const vectors = new Float32Array(capacity * this.dimension)
      vectors.set(this.vectors)
      const labels = new Float64Array(capacity)
      labels.set(this.labels)
      this.vectors = vectors
      this.labels = labels
    }
    const row = this.size++
    this.labels[row] = label
    this.#rows?.set(label, row)
    return row
  }
}

/**
 * A store's exact-search cache: each collection's decoded vectors, loaded on its first exact
 * query and kept within `budget` bytes for all collections together (least recently used go
 * first). Before each use it compares the cached sequence with the registry row the query
 * already read, and applies the rows and tombstones written since, by any store or process;
 * when that is not possible (pruned tombstones, or deletes that left none) it reloads.
 */
export class ExactCache {
  readonly #db: StorageAdapter
  readonly #budget: number
  /** Least recently used first. */
  readonly #entries = new Map<number, CollectionVectors>()
  /** Loads and catch-ups apply in the order they read, so the cache never goes back in time. */
  readonly #mutex = new Mutex()

  constructor(db: StorageAdapter, budget: number) {
    this.#db = db
    this.#budget = budget
  }

  /** Whether the collection's vectors can be cached at all. */
  fits(c: CollectionRow): boolean {
    return c.count * (c.dimension * 4 + PER_RECORD) <= this.#budget
  }

  /** Forgets a collection (it was dropped). */
  drop(cid: number): void {
    this.#entries.delete(cid)
  }

  /**
   * Scores the collection's records (or only `labels`, in label order) into `top` from memory.
   * Returns `false` when the collection does not fit the budget or changed under a filtered
   * query; the caller then scans the database.
   */
  async search(
    c: CollectionRow,
    score: (vector: Float32Array) => number,
    top: TopK,
    labels?: readonly number[],
  ): Promise<boolean> {
    if (!this.fits(c)) {
      this.#entries.delete(c.cid)
      return false
    }
    await this.#mutex.acquire()
    let entry: CollectionVectors | undefined
    try {
      entry = await this.#current(c)
    } finally {
      this.#mutex.release()
    }
    return entry?.search(score, top, labels) ?? false
  }

  async #current(c: CollectionRow): Promise<CollectionVectors | undefined> {
    let entry = this.#entries.get(c.cid)
    this.#entries.delete(c.cid)
    if (entry && (entry.uid !== c.uid || entry.dimension !== c.dimension)) entry = undefined
    if (entry && entry.seq !== c.seq) {
      entry = c.floor > entry.seq ? undefined : await this.#catchUp(entry, c)
    }
    entry ??= await this.#load(c)
    // Grown past the budget: still right for this query, but not kept.
    if (entry.bytes > this.#budget) return entry
    this.#entries.set(c.cid, entry)
    this.#evict()
    return entry
  }

  async #load(c: CollectionRow): Promise<CollectionVectors> {
    // Make room first, so the evicted copies and the new one are not all held at once.
    const needed = c.count * (c.dimension * 4 + PER_RECORD)
    for (const cid of [...this.#entries.keys()]) {
      if (needed + this.#used() <= this.#budget) break
      this.#entries.delete(cid)
    }
    const entry = new CollectionVectors(c)
    const t = collectionTables(c.cid)
    let after = 0
    while (true) {
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(
        `SELECT label, vector FROM ${t.vectors} WHERE label > ? ORDER BY label LIMIT ${PAGE}`,
        [after],
      )
      for (const row of rows) entry.put(row.label, row.vector)
      if (rows.length < PAGE) return entry
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  /** Applies the rows written and the tombstones left since `entry.seq`; `undefined` if it cannot. */
  async #catchUp(entry: CollectionVectors, c: CollectionRow): Promise<CollectionVectors | undefined> {
    const t = collectionTables(c.cid)
    const from = entry.seq
    const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(
      `SELECT label, vector FROM ${t.vectors} WHERE seq > ? ORDER BY label`,
      [from],
    )
    const gone = await this.#db.all<{ label: number }>(`SELECT label FROM ${t.gone} WHERE seq > ?`, [from])
    for (const row of rows) if (!entry.put(row.label, row.vector)) return undefined
    if (gone.length > 0) entry.remove(new Set(gone.map((row) => row.label)))
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
