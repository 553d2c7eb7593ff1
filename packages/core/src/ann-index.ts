import type { VectorMetric } from './vector-store.js'

/** One approximate-nearest-neighbour hit: an integer label and its score (higher is better). */
export interface AnnHit {
  /** The integer label the vector was added under. */
  label: number
  /** The same score meaning as exact search for the index's metric. */
  score: number
}

/**
 * The small contract an approximate index implements so a SQL-backed vector store can
 * switch from exact search to ANN without changing what its results mean.
 */
export interface AnnIndex {
  /** Number of dimensions. */
  readonly dimension: number
  /** Similarity measure. */
  readonly metric: VectorMetric
  /** Number of live (not removed) vectors. */
  size(): number
  /** Adds or replaces the vectors under these labels. */
  add(items: ReadonlyArray<{ label: number; vector: Float32Array }>): Promise<void>
  /** Removes labels; unknown labels are ignored. */
  remove(labels: readonly number[]): Promise<void>
  /** The `k` best hits, optionally only labels that `accept` allows. */
  search(vector: Float32Array, k: number, accept?: (label: number) => boolean): Promise<AnnHit[]>
  /** Writes the index to durable storage (a no-op for in-memory indexes). */
  persist(): Promise<void>
  /** Releases the index. */
  close(): Promise<void>
}
