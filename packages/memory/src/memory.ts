import { createDatabase, type StorageAdapter, StorageError, type VectorStore } from '@engram/core'
import { AgentState } from './agent-state.js'
import { chunkText } from './chunk-text.js'
import { ConversationMemory } from './conversation-memory.js'
import { defaultVectorStore } from './default-vector-store.js'
import type { Embedder } from './embedder.js'
import { KnowledgeGraph } from './knowledge-graph.js'
import { createLocalEmbedder } from './local-embedder.js'
import {
  type IngestInput,
  type IngestOptions,
  type IngestResult,
  type MemoryOptions,
  type RecallOptions,
  type Recollection,
  type RememberOptions,
  recallFilter,
} from './memory-options.js'
import { DOCUMENTS_TABLE, MEMORY_SCHEMA, TRACES_TABLE } from './memory-schema.js'
import { migrateSchema } from './migrate-schema.js'
import {
  checkUserMetadata,
  insertTraces,
  newTrace,
  type Trace,
  type TraceRow,
  toTrace,
  vectorMetadata,
} from './trace.js'

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
      vectors ??= await defaultVectorStore(storage, path, options.exactBelow ?? options.annThreshold)
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
    await migrateSchema(this.storage, MEMORY_SCHEMA)
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
    const trace = newTrace(text, options)
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
    const traces = items.map((item) => newTrace(item?.text, item ?? {}))
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
      ...newTrace(piece.text, {
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

  /** Writes traces, then their vectors; if the vectors fail, the rows are removed again so nothing is half-stored. */
  async #store(traces: Trace[], vectors: Float32Array[]): Promise<void> {
    await this.storage.transaction((tx) => insertTraces(tx, traces))
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
