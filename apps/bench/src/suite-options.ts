/** What every suite is given by the runner. */
export interface SuiteOptions {
  /** Tiny sizes, so the whole run takes seconds (CI runs this); figures from it mean nothing. */
  smoke: boolean
  /** The PostgreSQL (with pgvector) the Postgres rows run on. */
  pgUrl: string
  /** Real vectors to use instead of generated ones (`--embeddings`). */
  embeddings?: EmbeddingsSource
}

/** A file of real embeddings: `.f32` raw little-endian float32 rows (needs `dimension`), or `.jsonl` one JSON array per line. */
export interface EmbeddingsSource {
  path: string
  /** Numbers per vector; required for `.f32`, checked against the rows of `.jsonl`. */
  dimension?: number
}
