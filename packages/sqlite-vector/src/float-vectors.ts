import { CachedCollection } from './cached-collection.js'
import type { CollectionRow } from './collection-tables.js'
import type { TopK } from './top-k.js'

/** Bytes a record costs besides its Float32 vector: its label. */
export const FLOAT_PER_RECORD = 8

/**
 * A collection's vectors decoded into one contiguous Float32Array, scored exactly from memory
 * with the same scorer, in the same label order, as the scan of the database.
 */
export class FloatVectors extends CachedCollection {
  vectors: Float32Array

  constructor(c: CollectionRow) {
    super(c)
    this.vectors = new Float32Array(this.labels.length * c.dimension)
  }

  /** Bytes this form needs for `count` records of `dimension` numbers, the row index included. */
  static bytesFor(count: number, dimension: number): number {
    return count * (dimension * 4 + FLOAT_PER_RECORD + 48)
  }

  /** Scores every cached row (or only `labels`) into `top`. Returns `false` if a label is not cached. */
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

  protected storedBytes(): number {
    return this.vectors.byteLength + this.labels.byteLength
  }

  protected store(row: number, vector: Float32Array): void {
    this.vectors.set(vector, row * this.dimension)
  }

  protected move(from: number, to: number): void {
    const d = this.dimension
    this.vectors.copyWithin(to * d, from * d, (from + 1) * d)
  }

  protected grow(capacity: number): void {
    const vectors = new Float32Array(capacity * this.dimension)
    vectors.set(this.vectors)
    this.vectors = vectors
  }
}
