import hnsw from 'hnswlib-node'

const { HierarchicalNSW } = hnsw
/** hnswlib-node's index. */
export type Native = InstanceType<typeof HierarchicalNSW>
/** The hnswlib spaces engram's metrics map to. */
export type Space = 'cosine' | 'ip' | 'l2'

/** Stale entries of the removed-label list tolerated before it is reconciled with the index. */
const STALE_REMOVED = 1024

/**
 * An hnswlib index with the bookkeeping engram needs around it: which labels are live, which
 * are marked deleted, and how many deleted slots are still free for new labels. Deleted slots
 * are reused (hnswlib's `allowReplaceDeleted`): a new label takes one over instead of growing
 * the index, so its capacity and memory stay flat under churn. Used on the main thread and in
 * the build worker alike, so both apply changes the same way.
 */
export class HnswGraph {
  readonly native: Native
  readonly dimension: number
  readonly #live: Set<number>
  /** Labels marked deleted. A replaced slot's old label can linger here until `#reconcile`. */
  #removed: Set<number>
  /** Deleted slots a new label can take over. */
  #vacant = 0

  /** Wraps `native`; `removed` lists the labels it holds marked deleted (extra entries are ignored). */
  constructor(native: Native, dimension: number, removed: Iterable<number> = []) {
    this.native = native
    this.dimension = dimension
    const present = new Set(native.getIdsList())
    this.#removed = new Set()
    for (const label of removed) if (present.has(label)) this.#removed.add(label)
    this.#vacant = this.#removed.size
    this.#live = present
    for (const label of this.#removed) this.#live.delete(label)
  }

  /** Creates an empty native index that reuses deleted slots. */
  static create(
    space: Space,
    dimension: number,
    options: { capacity: number; m: number; efConstruction: number },
  ) {
    const native = new HierarchicalNSW(space, dimension)
    native.initIndex({
      maxElements: options.capacity,
      m: options.m,
      efConstruction: options.efConstruction,
      allowReplaceDeleted: true,
    })
    return native
  }

  /** A native index for `space` and `dimension`, not yet initialised (for `readIndex`). */
  static blank(space: Space, dimension: number): Native {
    return new HierarchicalNSW(space, dimension)
  }

  /** Live labels. */
  get size(): number {
    return this.#live.size
  }

  /** Slots the index has reserved. */
  get capacity(): number {
    return this.native.getMaxElements()
  }

  /** Whether `label` is live. */
  has(label: number): boolean {
    return this.#live.has(label)
  }

  /** Labels marked deleted, for the checkpoint file. */
  removedLabels(): number[] {
    return [...this.#removed]
  }

  /**
   * Adds or replaces vectors. A live label is updated in place; a label marked deleted is
   * revived; a new label takes over a deleted slot when there is one, else a fresh slot (the
   * index grows first when it is full). Vectors must have the index's dimension.
   */
  add(items: ReadonlyArray<{ label: number; vector: Float32Array }>): void {
    const native = this.native
    let fresh = 0
    for (const item of items) if (!this.#live.has(item.label) && !this.#removed.has(item.label)) fresh++
    const needed = native.getCurrentCount() + Math.max(0, fresh - this.#vacant)
    if (needed > native.getMaxElements()) native.resizeIndex(Math.max(needed, native.getMaxElements() * 2))
    for (const { label, vector } of items) {
      const point = toArray(vector)
      if (this.#live.has(label)) {
        native.addPoint(point, label)
        continue
      }
      if (this.#removed.delete(label) && this.#revive(label)) {
        native.addPoint(point, label)
      } else if (this.#vacant > 0) {
        // The slot taken over belonged to some removed label, which is no longer in the index.
        native.addPoint(point, label, true)
        this.#vacant--
      } else {
        if (native.getCurrentCount() >= native.getMaxElements())
          native.resizeIndex(native.getMaxElements() * 2)
        native.addPoint(point, label)
      }
      this.#live.add(label)
    }
    this.#reconcile()
  }

  /** Marks live labels deleted; others are ignored. */
  remove(labels: readonly number[]): void {
    for (const label of labels) {
      if (!this.#live.delete(label)) continue
      this.native.markDelete(label)
      this.#removed.add(label)
      this.#vacant++
    }
  }

  /** Unmarks a removed label still in the index; `false` when its slot was taken over by another. */
  #revive(label: number): boolean {
    try {
      this.native.unmarkDelete(label)
    } catch {
      return false
    }
    this.#vacant--
    return true
  }

  /** Drops removed labels whose slots were taken over, once enough of them pile up. */
  #reconcile(): void {
    if (this.#removed.size <= this.#vacant + STALE_REMOVED) return
    const present = new Set(this.native.getIdsList())
    this.#removed = new Set([...this.#removed].filter((label) => present.has(label)))
  }
}

/**
 * hnswlib-node takes plain arrays. A loop into a fresh array is over ten times cheaper than
 * `Array.from` on a Float32Array (about 0.8 against 8 µs for 384 numbers), a tenth of a search
 * at 10,000 records.
 */
export function toArray(vector: Float32Array): number[] {
  const n = vector.length
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = vector[i] as number
  return out
}
