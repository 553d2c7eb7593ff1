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

/** An `AnnIndex` that remembers which state of its source it holds, so it can catch up after a crash instead of being trusted stale. */
export interface CheckpointedAnnIndex extends AnnIndex {
  /** The checkpoint given to the last `persist()` that reached durable storage, or `undefined` for a new index. */
  readonly checkpoint: string | undefined
  /** Writes the index together with `checkpoint`, atomically. */
  persist(checkpoint?: string): Promise<void>
}

/** HNSW settings, named the same on every store that has them. */
export interface HnswSettings {
  /** Links per node (HNSW's M). Default is `16`. */
  m?: number
  /** Candidate list size while building. Default is `128`. */
  efConstruction?: number
  /** Candidate list size while searching (raised to `topK` when that is larger). Default is `64`. */
  efSearch?: number
}

/** The HNSW defaults every engram store uses, where its engine allows. */
export const HNSW_DEFAULTS: Readonly<Required<HnswSettings>> = Object.freeze({
  m: 16,
  efConstruction: 128,
  efSearch: 64,
})

/** What a store passes when it opens an index for a collection. */
export interface AnnIndexOptions extends HnswSettings {
  /** The index file, or `undefined` to keep the index in memory. */
  path?: string
  /** Number of dimensions. */
  dimension: number
  /** Similarity measure; scores mean the same as core's `similarity`. */
  metric: VectorMetric
}

/** Opens (or creates empty) the index at `options.path`; `createHnswIndex` from `@engram/hnsw-sidecar` is one. */
export type AnnIndexFactory = (options: AnnIndexOptions) => Promise<CheckpointedAnnIndex>
