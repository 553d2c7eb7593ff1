import type { Filter, Metadata, VectorStore } from '@engram/core'
import type { ChunkOptions } from './chunk-text.js'
import type { Embedder } from './embedder.js'
import type { MemoryWarningHandler } from './memory-warning.js'
import type { StorageTarget } from './open-storage.js'
import type { VectorStoreFactory } from './same-database-vectors.js'
import type { Trace, TraceType } from './trace.js'

/** Options for `Memory.open`. With none, a SQLite file in `./.engram` with the embedded vector tiers. */
export interface MemoryOptions {
  /**
   * The SQLite file to use. Next to `storage` (a SQLite adapter you opened), it names that adapter's
   * file, so the HNSW index can be kept beside it. Default is `$ENGRAM_DATA_DIR/memory.db`, or
   * `./.engram/memory.db`.
   */
  path?: string
  /**
   * The structured store, instead of `path`: a URL or file path (`'postgres://…'`, `'./data/memory.db'`)
   * or `createDatabase` options, which the memory opens and closes itself, or an open `StorageAdapter`,
   * which stays yours to close. Left out, the SQLite file at `path`. Given as `undefined` (an unset
   * environment variable), it is an `INVALID_ARGUMENT` error rather than a silent switch to SQLite.
   *
   * @example
   * Memory.open({ storage: process.env.DATABASE_URL ?? './data/memory.db' })
   */
  storage?: StorageTarget
  /**
   * The vector store, or a function that makes one on an adapter. Give a function when the store
   * keeps its vectors in the same database as `storage`: `Memory` calls it with `storage` (the
   * store it keeps, and closes) and with its write transactions, so a trace and its vector always
   * commit together. A store given as an object is treated as living elsewhere (Qdrant,
   * Pinecone, another database): its writes go through an outbox in `storage` that is replayed
   * after a crash, and the caller keeps ownership. Default is `@engram/sqlite-vector`'s store on a
   * SQLite `storage`, or `@engram/postgres`'s pgvector store on Postgres, both in the same database.
   */
  vectors?: VectorStore | VectorStoreFactory
  /** Turns texts into vectors. Default is the deterministic lexical `createLocalEmbedder()`. */
  embed?: Embedder
  /** The dimension you expect; it is checked against what `embed` returns, never assumed. */
  dimensions?: number
  /** The vector collection that holds memory traces. Default is `'memories'`. */
  collection?: string
  /** On the embedded default, records before vector search switches from the exact scan to the HNSW index. Default is `1000`. */
  exactBelow?: number
  /** @deprecated Use `exactBelow`; this name is removed in the next minor release. */
  annThreshold?: number
  /**
   * Told, once per memory for each kind, when a tier the defaults promise is unavailable: no
   * HNSW index once a collection reaches `exactBelow` records, or no full text for hybrid recall.
   * Pass `() => {}` to silence them. Default is one `console.warn` per process for each kind.
   */
  onWarning?: MemoryWarningHandler
}

/** Options for `remember`. */
export interface RememberOptions {
  /** A namespace. Default is `'default'`. */
  scope?: string
  /** Labels. */
  tags?: string[]
  /** Your own filterable values. */
  metadata?: Metadata
  /** The kind of memory. Default is `'note'`. */
  type?: TraceType
  /** Link the trace to a user's conversation (both must be given). */
  userId?: string
  /** Link the trace to a conversation, so deleting it deletes the trace. */
  conversationId?: string
}

/** Options for `recall`. */
export interface RecallOptions {
  /** Matches to return. Default is `5`. */
  topK?: number
  /** `'hybrid'` (vectors and full text fused with RRF), `'vector'` or `'text'`. Default is `'hybrid'` where supported. */
  mode?: 'hybrid' | 'vector' | 'text'
  /** Only traces in this scope. */
  scope?: string
  /** Only traces of this type. */
  type?: TraceType
  /** Only traces carrying this tag. */
  tag?: string
  /** A filter over your metadata and the built-in fields `scope`, `type`, `tags`, `document_id`, `user_id`, `conversation_id`. */
  filter?: Filter
}

/** One recalled trace and how well it matched (the vector store's score; higher is better). */
export interface Recollection {
  /** The trace. */
  trace: Trace
  /** Its score. */
  score: number
}

/** A document to ingest: plain text, or text with an id, a title and metadata. */
export type IngestInput = string | { id?: string; text: string; title?: string; metadata?: Metadata }

/** Options for `ingest`. */
export interface IngestOptions extends ChunkOptions {
  /** The scope of every chunk. Default is `'default'`. */
  scope?: string
  /** Tags on every chunk. */
  tags?: string[]
  /** Chunks embedded per call to the embedder. Default is `64`. */
  batchSize?: number
  /** Called after each batch with chunks done and the total. */
  onProgress?: (done: number, total: number) => void
}

/** What `ingest` stored. */
export interface IngestResult {
  /** The document's id. */
  documentId: string
  /** The chunks, in order. */
  chunks: Trace[]
}

/** The filter a recall runs with: its scope, type and tag, ANDed with the caller's own filter. */
export function recallFilter(options: RecallOptions): Filter | undefined {
  const parts: Filter[] = []
  if (options.scope !== undefined) parts.push({ scope: options.scope })
  if (options.type !== undefined) parts.push({ type: options.type })
  if (options.tag !== undefined) parts.push({ tags: options.tag })
  if (options.filter !== undefined) parts.push(options.filter)
  if (parts.length === 0) return undefined
  return parts.length === 1 ? parts[0] : { $and: parts }
}
