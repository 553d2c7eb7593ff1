import {
  createDatabase,
  type Filter,
  type Metadata,
  type MetadataValue,
  type StorageAdapter,
  StorageError,
  type VectorStore,
  validateMetadata,
} from '@engram/core'
import { AgentState } from './agent-state.js'
import { type ChunkOptions, chunkText } from './chunk-text.js'
import { ConversationMemory } from './conversation-memory.js'
import type { Embedder } from './embedder.js'
import { KnowledgeGraph } from './knowledge-graph.js'
import { createLocalEmbedder } from './local-embedder.js'
import { migrateSchema, type SchemaDefinition } from './migrate-schema.js'
import { createSqlVectorStore } from './sql-vector-store.js'

/** The table of memory traces. */
export const TRACES_TABLE = 'engram_traces'
/** The table of ingested documents. */
export const DOCUMENTS_TABLE = 'engram_documents'

/** Options for `Memory.open`. With none, a SQLite file in `./.engram` with the embedded vector tiers. */
export interface MemoryOptions {
  /** The SQLite file to use. Default is `$ENGRAM_DATA_DIR/memory.db`, or `./.engram/memory.db`. */
  path?: string
  /** A structured store to use instead of `path` (SQLite or Postgres). The caller keeps ownership. */
  storage?: StorageAdapter
  /** The vector store. Default is the SQL vector store on a SQLite `storage`, or PgVectorStore on Postgres. */
  vectors?: VectorStore
  /** Turns texts into vectors. Default is the deterministic lexical `createLocalEmbedder()`. */
  embed?: Embedder
  /** The dimension you expect; it is checked against what `embed` returns, never assumed. */
  dimensions?: number
  /** The vector collection that holds memory traces. Default is `'memories'`. */
  collection?: string
  /** Records before the embedded tier switches from exact search to the HNSW index. Default is `1000`. */
  annThreshold?: number
}

/** What kind of memory a trace is. */
export type TraceType = 'fact' | 'episode' | 'chunk' | 'summary' | 'note' | (string & {})

/** One remembered item. */
export interface Trace {
  /** Its id. */
  id: string
  /** The remembered text. */
  text: string
  /** Its kind. Default is `'note'` (`'chunk'` for ingested documents). */
  type: TraceType
  /** A namespace, such as a user or an agent. Default is `'default'`. */
  scope: string
  /** Labels to filter by. */
  tags: string[]
  /** Your own filterable values (strings, numbers, booleans, string lists). */
  metadata: Metadata
  /** The document it was cut from, for chunks. */
  documentId?: string
  /** Its position in that document. */
  chunkIndex?: number
  /** The user whose conversation it came from. */
  userId?: string
  /** The conversation it came from; deleting the conversation deletes the trace. */
  conversationId?: string
  /** When it was remembered, in milliseconds since the epoch. */
  createdAt: number
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

/** Traces per multi-row INSERT. */
const INSERT_ROWS = 50

const RESERVED = new Set(['scope', 'type', 'tags', 'document_id', 'user_id', 'conversation_id'])

const SCHEMA: SchemaDefinition = {
  component: 'memory',
  migrations: [
    {
      version: 1,
      name: 'traces and documents',
      async up(tx) {
        await tx.exec(`
          CREATE TABLE ${DOCUMENTS_TABLE} (
            id TEXT PRIMARY KEY,
            title TEXT,
            metadata TEXT NOT NULL,
            chunk_count INTEGER NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE TABLE ${TRACES_TABLE} (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            type TEXT NOT NULL,
            scope TEXT NOT NULL,
            tags TEXT NOT NULL,
            metadata TEXT NOT NULL,
            document_id TEXT REFERENCES ${DOCUMENTS_TABLE} (id) ON DELETE CASCADE,
            chunk_index INTEGER,
            user_id TEXT,
            conversation_id TEXT,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX engram_traces_by_scope ON ${TRACES_TABLE} (scope, created_at);
          CREATE INDEX engram_traces_by_document ON ${TRACES_TABLE} (document_id, chunk_index);
          CREATE INDEX engram_traces_by_conversation ON ${TRACES_TABLE} (user_id, conversation_id);
        `)
      },
    },
  ],
}

/**
 * An agent's memory: remember and recall (hybrid, filtered, scoped), document ingestion,
 * a knowledge graph, agent state and conversation history, over a structured store and a
 * vector store chosen independently.
 *
 * @example
 * const memory = await Memory.open()                   // ./.engram/memory.db, embedded tiers
 * await memory.remember('Ada prefers tea', { scope: 'user:ada' })
 * const hits = await memory.recall('what does Ada drink?', { scope: 'user:ada' })
 */
export class Memory {
  /** The structured store. */
  readonly storage: StorageAdapter
  /** The vector store. */
  readonly vectors: VectorStore
  /** The embedder. */
  readonly embed: Embedder
  /** The embedding dimension, measured from the embedder when the memory opened. */
  readonly dimensions: number
  /** The vector collection holding the traces. */
  readonly collection: string
  /** The knowledge graph. */
  readonly graph: KnowledgeGraph
  /** Per-agent saved state. */
  readonly state: AgentState
  /** Conversation history (the `IMemoryAdapter` contract); deleting a conversation also deletes its traces. */
  readonly conversations: ConversationMemory
  readonly #owned: { storage: boolean; vectors: boolean }
  #closed = false

  private constructor(parts: {
    storage: StorageAdapter
    vectors: VectorStore
    embed: Embedder
    dimensions: number
    collection: string
    owned: { storage: boolean; vectors: boolean }
  }) {
    this.storage = parts.storage
    this.vectors = parts.vectors
    this.embed = parts.embed
    this.dimensions = parts.dimensions
    this.collection = parts.collection
    this.#owned = parts.owned
    this.graph = new KnowledgeGraph(parts.storage)
    this.state = new AgentState(parts.storage)
    this.conversations = new ConversationMemory(parts.storage, {
      onDeleteConversation: (userId, conversationId) => this.#forgetConversation(userId, conversationId),
    })
  }

  /** Opens a memory; see `MemoryOptions` for the defaults. */
  static async open(options: MemoryOptions = {}): Promise<Memory> {
    const embed = options.embed ?? createLocalEmbedder()
    const dimensions = await measureDimensions(embed, options.dimensions)
    const collection = options.collection ?? 'memories'
    const path = options.storage ? undefined : (options.path ?? defaultPath())
    const storage = options.storage ?? (await createDatabase({ filename: path }))
    let vectors = options.vectors
    try {
      vectors ??= await defaultVectorStore(storage, path, options.annThreshold)
      const memory = new Memory({
        storage,
        vectors,
        embed,
        dimensions,
        collection,
        owned: { storage: !options.storage, vectors: !options.vectors },
      })
      await memory.#initialize()
      return memory
    } catch (error) {
      if (!options.vectors) await vectors?.close().catch(() => undefined)
      if (!options.storage) await storage.close().catch(() => undefined)
      throw error
    }
  }

  async #initialize(): Promise<void> {
    await migrateSchema(this.storage, SCHEMA)
    await this.graph.initialize()
    await this.state.initialize()
    await this.conversations.initialize()
    const existing = await this.vectors.describeCollection(this.collection)
    if (existing && existing.dimension !== this.dimensions) {
      throw new StorageError(
        'DIMENSION_MISMATCH',
        `The "${this.collection}" collection holds ${existing.dimension}-dimension vectors but the embedder returns ${this.dimensions}; use the embedder it was built with, or another collection`,
      )
    }
    if (!existing)
      await this.vectors.createCollection(this.collection, { dimension: this.dimensions, metric: 'cosine' })
  }

  /** Stores a piece of text as a memory trace and indexes it for recall. */
  async remember(text: string, options: RememberOptions = {}): Promise<Trace> {
    this.#checkOpen()
    const trace = this.#newTrace(text, options)
    const [vector] = await this.#embedAll([trace.text])
    await this.#store([trace], [vector as Float32Array])
    return trace
  }

  /**
   * Stores many memories, embedding and writing them in batches (far faster than a loop of
   * `remember`). Every item is checked before anything is written.
   */
  async rememberMany(
    items: ReadonlyArray<RememberOptions & { text: string }>,
    options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<Trace[]> {
    this.#checkOpen()
    if (!Array.isArray(items))
      throw new StorageError('INVALID_ARGUMENT', 'rememberMany() takes an array of { text, …options }')
    const traces = items.map((item) => this.#newTrace(item?.text, item ?? {}))
    const batchSize = options.batchSize ?? 256
    for (let start = 0; start < traces.length; start += batchSize) {
      const batch = traces.slice(start, start + batchSize)
      await this.#store(batch, await this.#embedAll(batch.map((t) => t.text)))
      options.onProgress?.(Math.min(start + batchSize, traces.length), traces.length)
    }
    return traces
  }

  /** Finds the traces that best match `query`, best first. */
  async recall(query: string, options: RecallOptions = {}): Promise<Recollection[]> {
    this.#checkOpen()
    if (typeof query !== 'string' || query.trim().length === 0) {
      throw new StorageError('INVALID_ARGUMENT', 'recall() needs a non-empty query')
    }
    const mode = options.mode ?? (this.vectors.capabilities.hybrid ? 'hybrid' : 'vector')
    const filter = recallFilter(options)
    const vector = mode === 'text' ? undefined : (await this.#embedAll([query]))[0]
    const matches = await this.vectors.query(this.collection, {
      ...(vector ? { vector } : {}),
      ...(mode === 'vector' ? {} : { text: query }),
      mode,
      topK: options.topK ?? 5,
      ...(filter ? { filter } : {}),
    })
    const traces = await this.#load(matches.map((m) => m.id))
    return matches.flatMap((match) => {
      const trace = traces.get(match.id)
      return trace ? [{ trace, score: match.score }] : []
    })
  }

  /**
   * Removes a trace and its vector. Returns whether it existed. With `scope`, only a trace in
   * that scope is removed (a trace of another scope is left alone and `false` is returned).
   */
  async forget(id: string, options: { scope?: string } = {}): Promise<boolean> {
    this.#checkOpen()
    if (options.scope !== undefined) {
      const trace = (await this.#load([id])).get(id)
      if (trace?.scope !== options.scope) return false
    }
    await this.vectors.delete(this.collection, { ids: [id] })
    return (await this.storage.run(`DELETE FROM ${TRACES_TABLE} WHERE id = ?`, [id])).changes > 0
  }

  /** Fetches a trace by id. */
  async get(id: string): Promise<Trace | undefined> {
    this.#checkOpen()
    return (await this.#load([id])).get(id)
  }

  /** Cuts a document into overlapping chunks, embeds them in batches and stores each as a trace linked to the document. */
  async ingest(document: IngestInput, options: IngestOptions = {}): Promise<IngestResult> {
    this.#checkOpen()
    const input = typeof document === 'string' ? { text: document } : document
    if (typeof input?.text !== 'string' || input.text.trim().length === 0) {
      throw new StorageError('INVALID_ARGUMENT', 'ingest() needs a document with non-empty text')
    }
    const documentId = input.id ?? globalThis.crypto.randomUUID()
    const metadata = checkUserMetadata(input.metadata)
    const pieces = chunkText(input.text, options)
    const chunks = pieces.map((piece) => ({
      ...this.#newTrace(piece.text, {
        type: 'chunk',
        metadata,
        ...(options.scope === undefined ? {} : { scope: options.scope }),
        ...(options.tags === undefined ? {} : { tags: options.tags }),
      }),
      documentId,
      chunkIndex: piece.index,
    }))
    await this.storage.run(
      `INSERT INTO ${DOCUMENTS_TABLE} (id, title, metadata, chunk_count, created_at) VALUES (?, ?, ?, ?, ?)`,
      [documentId, input.title ?? null, JSON.stringify(metadata), chunks.length, Date.now()],
    )
    const batchSize = options.batchSize ?? 64
    try {
      for (let start = 0; start < chunks.length; start += batchSize) {
        const batch = chunks.slice(start, start + batchSize)
        await this.#store(batch, await this.#embedAll(batch.map((c) => c.text)))
        options.onProgress?.(Math.min(start + batchSize, chunks.length), chunks.length)
      }
    } catch (error) {
      await this.forgetDocument(documentId).catch(() => undefined)
      throw error
    }
    return { documentId, chunks }
  }

  /** Removes a document and all its chunks, with their vectors. Returns the number of chunks removed. */
  async forgetDocument(documentId: string): Promise<number> {
    this.#checkOpen()
    const removed = await this.vectors.delete(this.collection, { filter: { document_id: documentId } })
    await this.storage.transaction(async (tx) => {
      await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE document_id = ?`, [documentId])
      await tx.run(`DELETE FROM ${DOCUMENTS_TABLE} WHERE id = ?`, [documentId])
    })
    return removed
  }

  /** Number of traces, optionally only in one scope. */
  async count(scope?: string): Promise<number> {
    const row = await this.storage.get<{ n: number }>(
      scope === undefined
        ? `SELECT COUNT(*) AS n FROM ${TRACES_TABLE}`
        : `SELECT COUNT(*) AS n FROM ${TRACES_TABLE} WHERE scope = ?`,
      scope === undefined ? [] : [scope],
    )
    return Number(row?.n ?? 0)
  }

  /** Closes what the memory opened; stores passed in by the caller stay open. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.conversations.close()
    if (this.#owned.vectors) await this.vectors.close()
    if (this.#owned.storage) await this.storage.close()
  }

  /** Deletes the traces (and vectors) made from a conversation; run when the conversation is deleted. */
  async #forgetConversation(userId: string, conversationId: string): Promise<void> {
    await this.vectors.delete(this.collection, {
      filter: { user_id: userId, conversation_id: conversationId },
    })
    await this.storage.run(`DELETE FROM ${TRACES_TABLE} WHERE user_id = ? AND conversation_id = ?`, [
      userId,
      conversationId,
    ])
  }

  #newTrace(text: string, options: RememberOptions): Trace {
    if (typeof text !== 'string' || text.trim().length === 0) {
      throw new StorageError('INVALID_ARGUMENT', 'A memory needs non-empty text')
    }
    if ((options.userId === undefined) !== (options.conversationId === undefined)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'Link a memory to a conversation with both userId and conversationId',
      )
    }
    const tags = options.tags ?? []
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
      throw new StorageError('INVALID_ARGUMENT', 'tags must be an array of non-empty strings')
    }
    const trace: Trace = {
      id: globalThis.crypto.randomUUID(),
      text,
      type: checkLabel(options.type ?? 'note', 'type'),
      scope: checkLabel(options.scope ?? 'default', 'scope'),
      tags: [...tags],
      metadata: checkUserMetadata(options.metadata),
      createdAt: Date.now(),
    }
    // No length cap on these two, to accept every id ConversationMemory accepts.
    if (options.userId !== undefined)
      trace.userId = checkLabel(options.userId, 'userId', Number.POSITIVE_INFINITY)
    if (options.conversationId !== undefined) {
      trace.conversationId = checkLabel(options.conversationId, 'conversationId', Number.POSITIVE_INFINITY)
    }
    return trace
  }

  /** Writes traces, then their vectors; if the vectors fail, the rows are removed again so nothing is half-stored. */
  async #store(traces: Trace[], vectors: Float32Array[]): Promise<void> {
    await this.storage.transaction(async (tx) => {
      // Multi-row INSERTs: one round trip per 50 traces instead of one per trace (550 parameters, within every limit).
      for (let start = 0; start < traces.length; start += INSERT_ROWS) {
        const rows = traces.slice(start, start + INSERT_ROWS)
        await tx.run(
          `INSERT INTO ${TRACES_TABLE} (id, text, type, scope, tags, metadata, document_id, chunk_index, user_id, conversation_id, created_at)
           VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          rows.flatMap((t) => [
            t.id,
            t.text,
            t.type,
            t.scope,
            JSON.stringify(t.tags),
            JSON.stringify(t.metadata),
            t.documentId ?? null,
            t.chunkIndex ?? null,
            t.userId ?? null,
            t.conversationId ?? null,
            t.createdAt,
          ]),
        )
      }
    })
    try {
      await this.vectors.upsert(
        this.collection,
        traces.map((t, i) => ({
          id: t.id,
          vector: vectors[i] as Float32Array,
          text: t.text,
          metadata: vectorMetadata(t),
        })),
      )
    } catch (error) {
      const ids = traces.map((t) => t.id)
      await this.storage
        .run(`DELETE FROM ${TRACES_TABLE} WHERE id IN (${ids.map(() => '?').join(', ')})`, ids)
        .catch(() => undefined)
      throw error
    }
  }

  async #embedAll(texts: string[]): Promise<Float32Array[]> {
    const vectors = await this.embed(texts)
    if (!Array.isArray(vectors) || vectors.length !== texts.length) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `The embedder returned ${vectors?.length} vectors for ${texts.length} texts`,
      )
    }
    for (const v of vectors) {
      if (v?.length !== this.dimensions) {
        throw new StorageError(
          'DIMENSION_MISMATCH',
          `The embedder returned a ${v?.length}-dimension vector; it measured ${this.dimensions} when the memory opened`,
        )
      }
    }
    return vectors
  }

  async #load(ids: string[]): Promise<Map<string, Trace>> {
    const out = new Map<string, Trace>()
    for (let i = 0; i < ids.length; i += 500) {
      const slice = ids.slice(i, i + 500)
      if (slice.length === 0) continue
      const rows = await this.storage.all<TraceRow>(
        `SELECT * FROM ${TRACES_TABLE} WHERE id IN (${slice.map(() => '?').join(', ')})`,
        slice,
      )
      for (const row of rows) out.set(row.id, toTrace(row))
    }
    return out
  }

  #checkOpen(): void {
    if (this.#closed) throw new StorageError('CLOSED', 'This memory is closed')
  }
}

interface TraceRow {
  id: string
  text: string
  type: string
  scope: string
  tags: string
  metadata: string
  document_id: string | null
  chunk_index: number | null
  user_id: string | null
  conversation_id: string | null
  created_at: number
}

function toTrace(row: TraceRow): Trace {
  const trace: Trace = {
    id: row.id,
    text: row.text,
    type: row.type,
    scope: row.scope,
    tags: JSON.parse(row.tags),
    metadata: JSON.parse(row.metadata),
    createdAt: Number(row.created_at),
  }
  if (row.document_id !== null) trace.documentId = row.document_id
  if (row.chunk_index !== null) trace.chunkIndex = Number(row.chunk_index)
  if (row.user_id !== null) trace.userId = row.user_id
  if (row.conversation_id !== null) trace.conversationId = row.conversation_id
  return trace
}

/** The vector record's metadata: the caller's values plus the built-in fields recall filters on. */
function vectorMetadata(trace: Trace): Metadata {
  const out: Record<string, MetadataValue> = {
    ...trace.metadata,
    scope: trace.scope,
    type: trace.type,
    tags: trace.tags,
  }
  if (trace.documentId !== undefined) out.document_id = trace.documentId
  if (trace.userId !== undefined) out.user_id = trace.userId
  if (trace.conversationId !== undefined) out.conversation_id = trace.conversationId
  return out
}

function recallFilter(options: RecallOptions): Filter | undefined {
  const parts: Filter[] = []
  if (options.scope !== undefined) parts.push({ scope: options.scope })
  if (options.type !== undefined) parts.push({ type: options.type })
  if (options.tag !== undefined) parts.push({ tags: options.tag })
  if (options.filter !== undefined) parts.push(options.filter)
  if (parts.length === 0) return undefined
  return parts.length === 1 ? parts[0] : { $and: parts }
}

function checkUserMetadata(metadata: Metadata | undefined): Metadata {
  const valid = validateMetadata(metadata) ?? {}
  for (const key of Object.keys(valid)) {
    if (RESERVED.has(key)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `metadata.${key} is reserved; pass it as an option of its own`,
      )
    }
  }
  return valid
}

function checkLabel(value: unknown, what: string, max = 1024): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} must be a non-empty string${Number.isFinite(max) ? ` of at most ${max} characters` : ''}`,
    )
  }
  return value
}

/** Asks the embedder once, so the dimension is measured rather than assumed. */
async function measureDimensions(embed: Embedder, expected: number | undefined): Promise<number> {
  if (typeof embed !== 'function')
    throw new StorageError('INVALID_ARGUMENT', 'embed must be a function (texts) => vectors')
  const [probe] = await embed(['engram dimension probe'])
  const measured = probe?.length
  if (!measured || !Number.isInteger(measured)) {
    throw new StorageError('INVALID_ARGUMENT', 'The embedder did not return a vector for a probe text')
  }
  if (expected !== undefined && expected !== measured) {
    throw new StorageError(
      'DIMENSION_MISMATCH',
      `dimensions is ${expected} but the embedder returns ${measured}-dimension vectors`,
    )
  }
  return measured
}

function defaultPath(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  return `${(env?.ENGRAM_DATA_DIR ?? '.engram').replace(/[\\/]+$/, '')}/memory.db`
}

/** The vector store that fits the structured store: the embedded tiers on SQLite, pgvector on Postgres. */
async function defaultVectorStore(
  storage: StorageAdapter,
  path: string | undefined,
  annThreshold?: number,
): Promise<VectorStore> {
  if (storage.dialect === 'postgres') {
    let module: { createPgVectorStore?: (config: { adapter: StorageAdapter }) => VectorStore }
    try {
      module = await import(/* @vite-ignore */ '@engram/postgres')
    } catch (error) {
      throw new StorageError(
        'DRIVER_NOT_INSTALLED',
        'A Postgres memory needs @engram/postgres for its vectors: pnpm add @engram/postgres (or pass vectors)',
        { cause: error },
      )
    }
    if (!module.createPgVectorStore)
      throw new StorageError('DRIVER_NOT_INSTALLED', '@engram/postgres has no createPgVectorStore')
    return module.createPgVectorStore({ adapter: storage })
  }
  const annPath = path ?? (storage.capabilities.persistence === 'memory' ? ':memory:' : undefined)
  const withAnn = annPath !== undefined && (await hasSidecar())
  return createSqlVectorStore(storage, {
    ...(withAnn ? { ann: { path: annPath } } : {}),
    ...(annThreshold === undefined ? {} : { annThreshold }),
  })
}

async function hasSidecar(): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ '@engram/hnsw-sidecar')
    return true
  } catch {
    return false
  }
}
