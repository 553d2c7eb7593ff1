import {
  type StorageAdapter,
  StorageError,
  type ValidRecord,
  type VectorStore,
  validateRecords,
} from '@engram/core'
import { AgentState } from './agent-state.js'
import { chunkText } from './chunk-text.js'
import { ConversationMemory } from './conversation-memory.js'
import { marks } from './conversation-rows.js'
import { DEFAULT_EXACT_BELOW, defaultVectorStore } from './default-vector-store.js'
import type { Embedder } from './embedder.js'
import { KnowledgeGraph } from './knowledge-graph.js'
import { createLocalEmbedder } from './local-embedder.js'
import { checkKey, checkOptions, checkText, describeValue, isPlainObject } from './memory-input.js'
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
import {
  batchOptions,
  checkVectorStore,
  embedChecked,
  measureDimensions,
  memoryStorage,
} from './memory-setup.js'
import { noFullText, TierWarnings } from './memory-warning.js'
import { migrateSchema } from './migrate-schema.js'
import { SameDatabaseVectors, type VectorStoreFactory } from './same-database-vectors.js'
import {
  checkUserMetadata,
  insertTraces,
  MAX_LABEL_LENGTH,
  newTrace,
  selectTraceIds,
  type Trace,
  type TraceRow,
  toTrace,
  vectorMetadata,
} from './trace.js'
import { VectorOutbox } from './vector-outbox.js'
import type { VectorWrites } from './vector-writes.js'

/**
 * An agent's memory: remember and recall (hybrid, filtered, scoped), document ingestion,
 * a knowledge graph, agent state and conversation history, over a structured store and a
 * vector store chosen independently.
 *
 * A trace and its vector are never separated, even by a crash: with a vector store in the same
 * database (the default on SQLite and Postgres, or `vectors` given as a factory) both are written
 * in one transaction; with a store elsewhere, the vector write is recorded in an outbox in the
 * trace's transaction and replayed until the store has it (see `VectorOutbox`).
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
  /** Tells the user once when a tier the defaults promise (HNSW, full text) is missing. */
  readonly #warnings: TierWarnings
  /** Whether the vector store is the default one, whose hybrid recall the docs promise. */
  readonly #promisedHybrid: boolean
  /** Writes vectors with their trace rows: in the same transaction, or through the outbox. */
  readonly #writes: VectorWrites
  /** Replays vector writes recorded by a store in another database (here, or in an earlier run). */
  readonly #outbox: VectorOutbox
  #closed = false

  private constructor(parts: {
    storage: StorageAdapter
    vectors: VectorStore
    sameDatabase: VectorStoreFactory | undefined
    embed: Embedder
    dimensions: number
    collection: string
    owned: { storage: boolean; vectors: boolean }
    warnings: TierWarnings
    promisedHybrid: boolean
  }) {
    this.storage = parts.storage
    this.vectors = parts.vectors
    this.embed = parts.embed
    this.dimensions = parts.dimensions
    this.collection = parts.collection
    this.#owned = parts.owned
    this.#warnings = parts.warnings
    this.#promisedHybrid = parts.promisedHybrid
    this.#outbox = new VectorOutbox(parts.storage, parts.vectors, parts.collection)
    this.#writes = parts.sameDatabase
      ? new SameDatabaseVectors(parts.storage, parts.sameDatabase, parts.collection, parts.vectors)
      : this.#outbox
    this.graph = new KnowledgeGraph(parts.storage)
    this.state = new AgentState(parts.storage)
    this.conversations = new ConversationMemory(parts.storage, {
      onDeleteInTransaction: (tx, userId, conversationId) =>
        this.#forgetConversation(tx, userId, conversationId),
      onDeleteConversation: () => this.#settleRemoval(),
    })
  }

  /**
   * Opens a memory; see `MemoryOptions` for the defaults. `close()` closes what this opened (the
   * database from `path` or a `storage` URL, the default vector store); what you pass in stays open.
   */
  static async open(given?: MemoryOptions): Promise<Memory> {
    const options = checkOptions(given, 'options')
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw new StorageError('INVALID_ARGUMENT', 'onWarning must be a function (warning) => void')
    }
    const embed = options.embed ?? createLocalEmbedder()
    const dimensions = await measureDimensions(embed, options.dimensions)
    const collection = options.collection ?? 'memories'
    const { storage, owned, file } = await memoryStorage(options)
    const vectorsOption = options.vectors
    const warnings = new TierWarnings(options.onWarning)
    let vectors: VectorStore | undefined
    try {
      let sameDatabase: VectorStoreFactory | undefined
      if (typeof vectorsOption === 'function') sameDatabase = vectorsOption
      else if (vectorsOption === undefined) {
        const exactBelow = options.exactBelow ?? options.annThreshold ?? DEFAULT_EXACT_BELOW
        sameDatabase = await defaultVectorStore(storage, file, exactBelow, (reason) =>
          warnings.exactOnly(reason, collection, exactBelow),
        )
      }
      vectors = checkVectorStore(sameDatabase ? sameDatabase(storage, 'reader') : vectorsOption)
      const memory = new Memory({
        storage,
        vectors,
        sameDatabase,
        embed,
        dimensions,
        collection,
        owned: { storage: owned, vectors: typeof vectorsOption !== 'object' },
        warnings,
        promisedHybrid: vectorsOption === undefined,
      })
      try {
        await memory.#initialize()
      } catch (error) {
        await memory.#writes.close().catch(() => undefined)
        throw error
      }
      return memory
    } catch (error) {
      if (typeof vectorsOption !== 'object') await vectors?.close().catch(() => undefined)
      if (owned) await storage.close().catch(() => undefined)
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
    // Vector writes a crash left behind (in this database, by any process) are applied now.
    await this.#outbox.drain()
    await this.#grew(existing?.count ?? 0)
  }

  /** Stores a piece of text as a memory trace and indexes it for recall. */
  async remember(text: string, options?: RememberOptions): Promise<Trace> {
    this.#checkOpen()
    const trace = newTrace(text, options)
    const [vector] = await this.#embedAll([trace.text])
    await this.#store([trace], [vector as Float32Array])
    return trace
  }

  /**
   * Stores many memories, embedding and writing them in batches (far faster than a loop of
   * `remember`). Every item is checked before anything is written; each batch is stored whole
   * or not at all.
   */
  async rememberMany(
    items: ReadonlyArray<RememberOptions & { text: string }>,
    options?: { batchSize?: number; onProgress?: (done: number, total: number) => void },
  ): Promise<Trace[]> {
    this.#checkOpen()
    if (!Array.isArray(items))
      throw new StorageError('INVALID_ARGUMENT', 'rememberMany() takes an array of { text, …options }')
    const { batchSize, onProgress } = batchOptions(checkOptions(options, 'options'), 256)
    const traces = items.map((item, i) => {
      if (!isPlainObject(item)) {
        throw new StorageError(
          'INVALID_ARGUMENT',
          `items[${i}] must be { text, …options }; got ${describeValue(item)}`,
        )
      }
      const { text, ...rest } = item
      return newTrace(text as string, rest)
    })
    for (let start = 0; start < traces.length; start += batchSize) {
      const batch = traces.slice(start, start + batchSize)
      await this.#store(batch, await this.#embedAll(batch.map((t) => t.text)))
      onProgress?.(Math.min(start + batchSize, traces.length), traces.length)
    }
    return traces
  }

  /** Finds the traces that best match `query`, best first. */
  async recall(query: string, given?: RecallOptions): Promise<Recollection[]> {
    this.#checkOpen()
    if (typeof query !== 'string' || query.trim().length === 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `recall() needs a non-empty query; got ${describeValue(query)}`,
      )
    }
    const options = checkOptions(given, 'options')
    const mode = options.mode ?? (this.vectors.capabilities.hybrid ? 'hybrid' : 'vector')
    if (options.mode === undefined && mode === 'vector' && this.#promisedHybrid)
      this.#warnings.warn('full-text-unavailable', noFullText(this.storage.kind))
    if (mode !== 'hybrid' && mode !== 'vector' && mode !== 'text') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `mode must be 'hybrid', 'vector' or 'text'; got ${describeValue(mode)}`,
      )
    }
    for (const label of ['scope', 'type', 'tag'] as const) {
      if (options[label] !== undefined) checkKey(options[label], label, MAX_LABEL_LENGTH)
    }
    const filter = recallFilter(options)
    // A store in another database may still owe writes a crash left in the outbox: apply them first.
    if (this.#writes === this.#outbox) await this.#outbox.drain()
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
  async forget(id: string, given?: { scope?: string }): Promise<boolean> {
    this.#checkOpen()
    checkKey(id, 'id')
    const { scope } = checkOptions(given, 'options')
    if (scope !== undefined) checkKey(scope, 'scope', MAX_LABEL_LENGTH)
    const removed = await this.storage.transaction(async (tx) => {
      const { changes } =
        scope === undefined
          ? await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE id = ?`, [id])
          : await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE id = ? AND scope = ?`, [id, scope])
      // Without a scope, a vector left without its trace (by an older version) goes too.
      if (changes > 0 || scope === undefined) await this.#writes.delete(tx, [id])
      return changes > 0
    })
    await this.#settleRemoval()
    return removed
  }

  /** Fetches a trace by id. */
  async get(id: string): Promise<Trace | undefined> {
    this.#checkOpen()
    return (await this.#load([checkKey(id, 'id')])).get(id)
  }

  /**
   * Cuts a document into overlapping chunks, embeds them in batches and stores each as a trace
   * linked to the document. Each batch is stored whole or not at all; if a batch fails, the
   * document is removed again.
   */
  async ingest(document: IngestInput, given?: IngestOptions): Promise<IngestResult> {
    this.#checkOpen()
    const input = typeof document === 'string' ? { text: document } : document
    if (!isPlainObject(input) || typeof input.text !== 'string' || input.text.trim().length === 0) {
      throw new StorageError('INVALID_ARGUMENT', 'ingest() needs a document with non-empty text')
    }
    const options = checkOptions(given, 'options')
    const { batchSize, onProgress } = batchOptions(options, 64)
    const documentId =
      input.id === undefined ? globalThis.crypto.randomUUID() : checkKey(input.id, 'document id')
    const title = checkText(input.title, 'document title')
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
    // The document row goes in with its first batch of chunks, so no crash leaves it without any.
    const insertDocument = (tx: StorageAdapter) =>
      tx.run(
        `INSERT INTO ${DOCUMENTS_TABLE} (id, title, metadata, chunk_count, created_at) VALUES (?, ?, ?, ?, ?)`,
        [documentId, title, JSON.stringify(metadata), chunks.length, Date.now()],
      )
    let stored = false
    try {
      for (let start = 0; start < chunks.length; start += batchSize) {
        const batch = chunks.slice(start, start + batchSize)
        const vectors = await this.#embedAll(batch.map((c) => c.text))
        await this.#store(batch, vectors, stored ? undefined : insertDocument)
        stored = true
        onProgress?.(Math.min(start + batchSize, chunks.length), chunks.length)
      }
    } catch (error) {
      // Until the first batch commits nothing of this document exists (its id may be another's).
      if (stored) await this.forgetDocument(documentId).catch(() => undefined)
      throw error
    }
    return { documentId, chunks }
  }

  /** Removes a document and all its chunks, with their vectors. Returns the number of chunks removed. */
  async forgetDocument(documentId: string): Promise<number> {
    this.#checkOpen()
    checkKey(documentId, 'document id')
    const removed = await this.storage.transaction(async (tx) => {
      const ids = await selectTraceIds(tx, 'document_id = ?', [documentId])
      await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE document_id = ?`, [documentId])
      await tx.run(`DELETE FROM ${DOCUMENTS_TABLE} WHERE id = ?`, [documentId])
      await this.#writes.delete(tx, ids)
      return ids.length
    })
    await this.#settleRemoval()
    return removed
  }

  /** Number of traces, optionally only in one scope. */
  async count(scope?: string): Promise<number> {
    this.#checkOpen()
    if (scope !== undefined) checkKey(scope, 'scope', MAX_LABEL_LENGTH)
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
    await this.#writes.close()
    if (this.#owned.vectors) await this.vectors.close()
    if (this.#owned.storage) await this.storage.close()
  }

  /** Inside the conversation's delete transaction: its traces, and their vectors, go with it. */
  async #forgetConversation(tx: StorageAdapter, userId: string, conversationId: string): Promise<void> {
    const where = 'user_id = ? AND conversation_id = ?'
    const ids = await selectTraceIds(tx, where, [userId, conversationId])
    if (ids.length === 0) return
    await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE ${where}`, [userId, conversationId])
    await this.#writes.delete(tx, ids)
  }

  /**
   * Writes traces and their vectors in one transaction (with `before`, for a document row). If
   * a store in another database then fails, the rows are taken back so a failed call leaves
   * nothing behind.
   */
  async #store(
    traces: Trace[],
    vectors: Float32Array[],
    before?: (tx: StorageAdapter) => Promise<unknown>,
  ): Promise<void> {
    // Checked before the transaction, so a vector the store would refuse never reaches the outbox.
    const records: ValidRecord[] = validateRecords(
      traces.map((t, i) => ({
        id: t.id,
        vector: vectors[i] as Float32Array,
        text: t.text,
        metadata: vectorMetadata(t),
      })),
      this.dimensions,
    )
    await this.storage.transaction(async (tx) => {
      await before?.(tx)
      await insertTraces(tx, traces)
      await this.#writes.upsert(tx, records)
    })
    try {
      await this.#writes.settle()
    } catch (error) {
      const ids = traces.map((t) => t.id)
      await this.storage
        .transaction(async (tx) => {
          await tx.run(`DELETE FROM ${TRACES_TABLE} WHERE id IN (${marks(ids.length)})`, ids)
          await this.#writes.delete(tx, ids)
        })
        .catch(() => undefined)
      await this.#writes.settle().catch(() => undefined)
      throw error
    }
    await this.#grew(traces.length)
  }

  /** Counts stored records towards the HNSW warning; a failed count only delays the warning. */
  async #grew(stored: number): Promise<void> {
    await this.#warnings.grew(stored, () => this.vectors.count(this.collection)).catch(() => undefined)
  }

  /** After a delete committed: removes the vectors too, or says they are still queued. */
  async #settleRemoval(): Promise<void> {
    try {
      await this.#writes.settle()
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new StorageError(
        error instanceof StorageError ? error.code : 'QUERY_FAILED',
        `The traces are deleted, but removing their vectors from the ${this.vectors.kind} store failed (${reason}); it is retried by the next write, recall or open`,
        { cause: error },
      )
    }
  }

  #embedAll(texts: string[]): Promise<Float32Array[]> {
    return embedChecked(this.embed, texts, this.dimensions)
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
