import type { CollectionRow } from './collection-tables.js'

/** Bytes the label → row index costs per record once it is built (a Map entry). */
export const ROW_INDEX_BYTES = 48

/**
 * One collection's vectors held in memory in label order, with the parallel labels; the
 * subclasses decide how a vector is kept (as Float32 or quantized). It holds every change up to
 * the collection's sequence `seq`.
 */
export abstract class CachedCollection {
  readonly uid: string
  readonly dimension: number
  seq: number
  size = 0
  labels: Float64Array
  /** Label → row, built on first use (filtered queries and catch-up). */
  #rows: Map<number, number> | undefined

  constructor(c: CollectionRow) {
    this.uid = c.uid
    this.dimension = c.dimension
    this.seq = c.seq
    this.labels = new Float64Array(Math.max(16, c.count))
  }

  /** Bytes held, the row index included once built. */
  get bytes(): number {
    return this.storedBytes() + (this.#rows ? this.size * ROW_INDEX_BYTES : 0)
  }

  /** The row of each cached label. */
  rows(): Map<number, number> {
    if (!this.#rows) {
      this.#rows = new Map()
      for (let i = 0; i < this.size; i++) this.#rows.set(this.labels[i] as number, i)
    }
    return this.#rows
  }

  /** Writes a record's vector: in place if the label is cached, else after the last row. Returns `false` if the label would break label order. */
  put(label: number, vector: Float32Array): boolean {
    let row = this.#rows?.get(label)
    if (row === undefined) {
      if (this.size > 0 && label <= (this.labels[this.size - 1] as number)) {
        row = this.rows().get(label)
        if (row === undefined) return false
      } else {
        row = this.#append(label)
      }
    }
    this.store(row, vector)
    return true
  }

  /** Drops the given labels, keeping the rest in label order. */
  remove(labels: ReadonlySet<number>): void {
    let kept = 0
    for (let i = 0; i < this.size; i++) {
      if (labels.has(this.labels[i] as number)) continue
      if (kept !== i) {
        this.labels[kept] = this.labels[i] as number
        this.move(i, kept)
      }
      kept++
    }
    if (kept !== this.size) this.#rows = undefined
    this.size = kept
  }

  /** Bytes of the vectors and the per-row arrays, without the row index. */
  protected abstract storedBytes(): number
  /** Keeps `vector` as row `row`. */
  protected abstract store(row: number, vector: Float32Array): void
  /** Copies row `from` onto row `to` (compaction after removals). */
  protected abstract move(from: number, to: number): void
  /** Makes room for `capacity` rows, keeping the first `size`. */
  protected abstract grow(capacity: number): void

  #append(label: number): number {
    if (this.size === this.labels.length) {
      const capacity = this.labels.length * 2
      const labels = new Float64Array(capacity)
      labels.set(this.labels)
      this.labels = labels
      this.grow(capacity)
    }
    const row = this.size++
    this.labels[row] = label
    this.#rows?.set(label, row)
    return row
  }
}
