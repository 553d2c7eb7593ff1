import type { CollectionRow } from './collection-tables.js'
import { QuantizedVectors } from './quantized-vectors.js'
import type { TopK } from './top-k.js'

/**
 * A collection's vectors decoded into one contiguous Float32Array beside their one-byte codes:
 * the quantized first pass narrows a query down to the records that can be among the best, and
 * those are scored exactly from memory, with the same scorer and by the same rule as the scan of
 * the database.
 */
export class FloatVectors extends QuantizedVectors {
  vectors: Float32Array

  constructor(c: CollectionRow) {
    super(c)
    this.vectors = new Float32Array(this.labels.length * c.dimension)
  }

  /** Bytes this form needs for `count` records of `dimension` numbers, the row index included. */
  static override bytesFor(count: number, dimension: number): number {
    return QuantizedVectors.bytesFor(count, dimension) + count * dimension * 4
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

  /** Scores the given rows into `top`. */
  scoreRows(score: (vector: Float32Array) => number, top: TopK, rows: readonly number[]): void {
    const d = this.dimension
    for (const i of rows) top.push(this.labels[i] as number, score(this.vectors.subarray(i * d, (i + 1) * d)))
  }

  protected override storedBytes(): number {
    return super.storedBytes() + this.vectors.byteLength
  }

  protected override store(row: number, vector: Float32Array): void {
    super.store(row, vector)
    this.vectors.set(vector, row * this.dimension)
  }

  protected override move(from: number, to: number): void {
    super.move(from, to)
    const d = this.dimension
    this.vectors.copyWithin(to * d, from * d, (from + 1) * d)
  }

  protected override grow(capacity: number): void {
    super.grow(capacity)
    const vectors = new Float32Array(capacity * this.dimension)
    vectors.set(this.vectors)
    this.vectors = vectors
  }
}
