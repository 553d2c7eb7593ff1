import type { Filter } from './filter.js'

/** How similarity is measured. Scores are always "higher is better". */
export type VectorMetric = 'cosine' | 'dot' | 'euclidean'

/** A metadata value: string, finite number, boolean, or a list of strings. */
export type MetadataValue = string | number | boolean | readonly string[]

/** Flat metadata attached to a vector record. */
export type Metadata = Readonly<Record<string, MetadataValue>>

/** What a collection is made of. */
export interface CollectionSpec {
  /** Number of dimensions of every vector in the collection. */
  dimension: number
  /** Similarity measure. Default is `'cosine'`. */
  metric?: VectorMetric
}

/** A collection as described by `describeCollection`. */
export interface CollectionInfo {
  /** The collection's name. */
  name: string
  /** Number of dimensions. */
  dimension: number
  /** Similarity measure. */
  metric: VectorMetric
  /** Number of records stored. */
  count: number
}

/** One stored item: an id, its vector, and optional metadata and text. */
export interface VectorRecord {
  /** The caller's id; always a string. */
  id: string
  /** The embedding. Returned as a `Float32Array`. */
  vector: Float32Array | readonly number[]
  /** Filterable metadata. */
  metadata?: Metadata
  /** Text for full-text and hybrid search. */
  text?: string
}

/** A search request; give `vector`, `text`, or both. */
export interface VectorQuery {
  /** The query embedding. */
  vector?: Float32Array | readonly number[]
  /** The full-text query. */
  text?: string
  /** How many matches to return. Default is `10`. */
  topK?: number
  /** Only records whose metadata matches. */
  filter?: Filter
  /** `'vector'`, `'text'` or `'hybrid'` (both lists fused with RRF). Default depends on what is given. */
  mode?: 'vector' | 'text' | 'hybrid'
  /** The RRF constant for hybrid fusion. Default is `60`. */
  rrfK?: number
  /** Include each match's vector. Default is `false`. */
  includeVectors?: boolean
}

/** A search result. */
export interface VectorMatch {
  /** The record's id. */
  id: string
  /** Cosine similarity, dot product, negative Euclidean distance, text rank score or RRF score; higher is better. */
  score: number
  /** The record's metadata, if it has any. */
  metadata?: Metadata
  /** The record's text, if it has any. */
  text?: string
  /** The vector, when `includeVectors` was set. */
  vector?: Float32Array
}

/** Which records `delete` removes. */
export type DeleteTarget = { ids: readonly string[] } | { filter: Filter }

/** What a vector store can do beyond the minimum. */
export interface VectorCapabilities {
  /** Full-text and hybrid queries are supported. */
  hybrid: boolean
  /** The filter operators it honours; others are an `UNSUPPORTED` error. */
  operators: readonly string[]
  /** The metrics it supports. */
  metrics: readonly VectorMetric[]
  /** The largest dimension it accepts. */
  maxDimension: number
  /** Whether search is exact (`true`) or approximate. */
  exact: boolean
  /** The largest `topK` a query may ask for. Default is `10000`. */
  maxTopK?: number
  /** Whether range operators can compare strings (by code point), not only numbers. Default is `true`. */
  stringRanges?: boolean
}

/** The vector contract every vector backend implements. */
export interface VectorStore {
  /** The backend's name. */
  readonly kind: string
  /** What this store supports. */
  readonly capabilities: VectorCapabilities
  /** Creates a collection; a no-op for the same spec, `DIMENSION_MISMATCH` for a different one. */
  createCollection(name: string, spec: CollectionSpec): Promise<void>
  /** Describes a collection, or `undefined` if it does not exist. */
  describeCollection(name: string): Promise<CollectionInfo | undefined>
  /** Names of all collections, sorted. */
  listCollections(): Promise<string[]>
  /** Drops a collection and its records; a no-op if it does not exist. */
  dropCollection(name: string): Promise<void>
  /** Inserts or replaces records by id. All-or-nothing: one invalid record rejects the batch. */
  upsert(collection: string, records: readonly VectorRecord[]): Promise<void>
  /** Searches by vector, text or both, best match first. */
  query(collection: string, query: VectorQuery): Promise<VectorMatch[]>
  /** Fetches records by id; missing ids are left out. */
  get(collection: string, ids: readonly string[]): Promise<VectorRecord[]>
  /** Deletes by ids or by filter and returns how many records were removed. */
  delete(collection: string, target: DeleteTarget): Promise<number>
  /** Counts records, optionally only those matching a filter. */
  count(collection: string, filter?: Filter): Promise<number>
  /** Streams every record (or the matching ones) in batches. Default batch size is `100`. */
  scan(collection: string, options?: { filter?: Filter; batchSize?: number }): AsyncIterable<VectorRecord[]>
  /** Releases resources; later calls fail with `CLOSED`. */
  close(): Promise<void>
}
