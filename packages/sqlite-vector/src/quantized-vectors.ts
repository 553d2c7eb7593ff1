import { norm, type VectorMetric } from '@engram/core'
import { CachedCollection, ROW_INDEX_BYTES } from './cached-collection.js'
import { CodeMatrix, queryCodeLimit } from './code-matrix.js'
import type { CollectionRow } from './collection-tables.js'

/** Bytes a record costs besides its one-byte codes: label, scale, norm, error, the codes' own norm, a scratch bound and a scratch product. */
export const QUANTIZED_PER_RECORD = 6 * 8 + 8

/**
 * Rounding headroom added to every bound, relative to the scores' scale: far above what double
 * sums over up to 65,535 products can lose (about 1e-11), far below any real gap between scores.
 */
const SLACK = 1e-9

/** A query as int16 codes (`q ≈ scale · codes`), with the norms its bounds need. */
interface QuantizedQuery {
  codes: Int16Array
  scale: number
  /** `‖scale · codes‖`. */
  approximateNorm: number
  /** `‖q − scale · codes‖`. */
  error: number
}

/** Rounds `query` to int16 codes within `limit`, zero-padded to `stride` numbers. */
function quantizeQuery(query: Float32Array, stride: number, limit: number): QuantizedQuery {
  let largest = 0
  for (const value of query) if (Math.abs(value) > largest) largest = Math.abs(value)
  const scale = largest / limit
  const inverse = largest === 0 ? 0 : limit / largest
  const codes = new Int16Array(stride)
  let squares = 0
  let error = 0
  for (let x = 0; x < query.length; x++) {
    const value = query[x] as number
    // |value · inverse| ≤ limit up to one rounding, so the code stays within ±limit.
    const code = Math.round(value * inverse)
    codes[x] = code
    const approximate = scale * code
    squares += approximate * approximate
    error += (value - approximate) * (value - approximate)
  }
  return { codes, scale, approximateNorm: Math.sqrt(squares), error: Math.sqrt(error) }
}

/**
 * A collection's vectors as one signed byte per number (`v ≈ scale · codes`), with, per record,
 * the exact norm of the vector and of its rounding error `‖v − scale · codes‖`. The query is
 * rounded to int16 codes the same way, so a first pass is integer dot products (SIMD
 * WebAssembly where available, `CodeMatrix`) over a quarter of the memory. The two rounding
 * errors bound how far a score computed from the codes can be from the exact score
 * (`q·v − q̃·ṽ = (q − q̃)·v + q̃·(v − ṽ)`, then Cauchy–Schwarz), so the pass finds every record
 * that can be among the `k` best, and only those are scored exactly. Exact search stays exact:
 * same records, same scores.
 */
export class QuantizedVectors extends CachedCollection {
  matrix: CodeMatrix
  scales: Float64Array
  /** `‖v‖`, computed like the exact scorer computes it. */
  norms: Float64Array
  /** `‖v − scale · codes‖`. */
  errors: Float64Array
  /** `‖scale · codes‖²`, for Euclidean distances. */
  approximateSquares: Float64Array
  /** Per-row upper bounds of the current query (reused, so a query allocates nothing per record). */
  #upper: Float64Array

  constructor(c: CollectionRow) {
    super(c)
    const capacity = this.labels.length
    this.matrix = new CodeMatrix(c.dimension, capacity)
    this.scales = new Float64Array(capacity)
    this.norms = new Float64Array(capacity)
    this.errors = new Float64Array(capacity)
    this.approximateSquares = new Float64Array(capacity)
    this.#upper = new Float64Array(capacity)
  }

  /** Bytes this form needs for `count` records of `dimension` numbers, the row index included. */
  static bytesFor(count: number, dimension: number): number {
    return count * (Math.ceil(dimension / 8) * 8 + QUANTIZED_PER_RECORD + ROW_INDEX_BYTES)
  }

  /**
   * The rows (ascending) of every record, or of every one of `labels` (ascending), whose exact
   * score for `query` can be among the `k` best; `undefined` if one of `labels` is not cached.
   */
  candidates(
    metric: VectorMetric,
    query: Float32Array,
    k: number,
    labels?: readonly number[],
  ): number[] | undefined {
    let rows: Int32Array | undefined
    if (labels !== undefined) {
      const index = this.rows()
      rows = new Int32Array(labels.length)
      for (let j = 0; j < labels.length; j++) {
        const row = index.get(labels[j] as number)
        if (row === undefined) return undefined
        rows[j] = row
      }
    }
    const n = rows === undefined ? this.size : rows.length
    const stride = this.matrix.stride
    const q = quantizeQuery(query, stride, queryCodeLimit(stride))
    const dots = this.matrix.dots(q.codes, n, rows)
    const queryNorm = norm(query)
    const squaredQuery = queryNorm * queryNorm
    const lower = new LowerBounds(k)
    const upper = this.#upper
    for (let j = 0; j < n; j++) {
      const i = rows === undefined ? j : (rows[j] as number)
      // q̃·ṽ, and the bound on |q·v − q̃·ṽ| from the two rounding errors.
      const approximateDot = q.scale * (this.scales[i] as number) * (dots[j] as number)
      const vectorNorm = this.norms[i] as number
      const dotError = q.approximateNorm * (this.errors[i] as number) + q.error * vectorNorm
      let score: number
      let bound: number
      if (metric === 'cosine') {
        const denominator = queryNorm * vectorNorm
        score = denominator === 0 ? 0 : approximateDot / denominator
        bound = denominator === 0 ? 0 : dotError / denominator + SLACK
      } else if (metric === 'dot') {
        score = approximateDot
        bound = dotError + SLACK * (1 + queryNorm * vectorNorm)
      } else {
        const squares = this.approximateSquares[i] as number
        const squared = squaredQuery - 2 * approximateDot + squares
        score = -Math.sqrt(Math.max(0, squared))
        // ‖q − ṽ‖² differs from `squared` by 2(q − q̃)·ṽ, at most `shift`; a square root moves
        // by at most √shift, and by at most shift / √squared away from zero.
        const shift = 2 * q.error * Math.sqrt(squares)
        const queryTerm =
          squared > 0 ? Math.min(Math.sqrt(shift), shift / Math.sqrt(squared)) : Math.sqrt(shift)
        // The expansion loses up to ~1e-16 of its terms' size, which a square root can magnify
        // near zero: bound that, and the error the record's codes make (‖q − v‖ is within
        // ‖v − ṽ‖ of ‖q − ṽ‖).
        const cancellation = Math.sqrt(SLACK * 0.1 * (squaredQuery + squares + 2 * Math.abs(approximateDot)))
        bound = (this.errors[i] as number) + queryTerm + cancellation + SLACK * (1 + queryNorm + vectorNorm)
      }
      upper[j] = score + bound
      lower.offer(score - bound)
    }
    const floor = lower.floor()
    const out: number[] = []
    for (let j = 0; j < n; j++) {
      if ((upper[j] as number) >= floor) {
        out.push(rows === undefined ? j : (rows[j] as number))
      }
    }
    return out
  }

  protected storedBytes(): number {
    return (
      this.matrix.byteLength +
      this.labels.byteLength +
      this.scales.byteLength +
      this.norms.byteLength +
      this.errors.byteLength +
      this.approximateSquares.byteLength +
      this.#upper.byteLength
    )
  }

  protected store(row: number, vector: Float32Array): void {
    const d = this.dimension
    let largest = 0
    let squares = 0
    for (let x = 0; x < d; x++) {
      const value = vector[x] as number
      squares += value * value
      if (value > largest) largest = value
      else if (-value > largest) largest = -value
    }
    const scale = largest / 127
    const inverse = scale === 0 ? 0 : 1 / scale
    const codes = this.matrix.codes
    const base = row * this.matrix.stride
    let error = 0
    let approximateSquares = 0
    for (let x = 0; x < d; x++) {
      const value = vector[x] as number
      // |value| ≤ largest, so the code is within ±127 (rounding cannot leave the range).
      const code = Math.round(value * inverse)
      codes[base + x] = code
      const approximate = scale * code
      error += (value - approximate) * (value - approximate)
      approximateSquares += approximate * approximate
    }
    this.scales[row] = scale
    this.norms[row] = Math.sqrt(squares)
    this.errors[row] = Math.sqrt(error)
    this.approximateSquares[row] = approximateSquares
  }

  protected move(from: number, to: number): void {
    this.matrix.copyRow(from, to)
    this.scales[to] = this.scales[from] as number
    this.norms[to] = this.norms[from] as number
    this.errors[to] = this.errors[from] as number
    this.approximateSquares[to] = this.approximateSquares[from] as number
  }

  protected grow(capacity: number): void {
    this.matrix.grow(capacity)
    this.scales = resized(this.scales, capacity)
    this.norms = resized(this.norms, capacity)
    this.errors = resized(this.errors, capacity)
    this.approximateSquares = resized(this.approximateSquares, capacity)
    this.#upper = new Float64Array(capacity)
  }
}

function resized(values: Float64Array, capacity: number): Float64Array {
  const out = new Float64Array(capacity)
  out.set(values)
  return out
}

/** The `k` largest lower bounds seen, in a min-heap: its root is the bound every candidate's upper bound must reach. */
class LowerBounds {
  readonly #heap: Float64Array
  #size = 0

  constructor(k: number) {
    this.#heap = new Float64Array(k)
  }

  offer(value: number): void {
    const heap = this.#heap
    if (this.#size < heap.length) {
      let i = this.#size++
      while (i > 0) {
        const parent = (i - 1) >> 1
        if ((heap[parent] as number) <= value) break
        heap[i] = heap[parent] as number
        i = parent
      }
      heap[i] = value
      return
    }
    if (value <= (heap[0] as number)) return
    let i = 0
    const n = heap.length
    while (true) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && (heap[right] as number) < (heap[left] as number) ? right : left
      if ((heap[child] as number) >= value) break
      heap[i] = heap[child] as number
      i = child
    }
    heap[i] = value
  }

  /** The k-th largest bound, or -Infinity while fewer than k were offered (every record is then a candidate). */
  floor(): number {
    return this.#size < this.#heap.length ? Number.NEGATIVE_INFINITY : (this.#heap[0] as number)
  }
}
