import {
  type Row,
  type RunResult,
  type SqlParams,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
  type ValidRecord,
  type VectorStore,
} from '@engram/core'
import type { VectorWrites } from './vector-writes.js'

/**
 * Makes a vector store on an adapter. Give `Memory.open` one (as `vectors`) when the store keeps
 * its vectors in the same database as `storage`: `Memory` then calls it once with `storage` and
 * `'reader'` for the store that answers recalls, and with write transactions and `'writer'` for
 * the stores that write in them, so a trace and its vector commit together. A writer should
 * leave index builds to the reader (`ann.buildAfterWrites: false` on the SQLite store), which
 * `Memory` asks to take in each write, or start the build it made due, once it commits (`prepareIndex`).
 *
 * @example
 * Memory.open({
 *   storage,
 *   vectors: (adapter, role) =>
 *     createSqliteVectorStore({ adapter, ann: { path, buildAfterWrites: role === 'reader' } }),
 * })
 */
export type VectorStoreFactory = (adapter: StorageAdapter, role: VectorStoreRole) => VectorStore

/** What a store made by a `VectorStoreFactory` is for: answering recalls, or writing inside a memory's transactions. */
export type VectorStoreRole = 'reader' | 'writer'

interface Writer {
  adapter: LentAdapter
  store: VectorStore
}

/**
 * Vector writes for a store in the same database as the traces: each write runs on a store
 * whose adapter is lent the trace rows' transaction, so rows and vectors commit (or roll back)
 * together and a crash can never separate them. Writer stores are kept and reused, one per
 * write in flight, so their set-up runs once rather than in every transaction.
 */
export class SameDatabaseVectors implements VectorWrites {
  readonly #storage: StorageAdapter
  readonly #make: VectorStoreFactory
  readonly #collection: string
  readonly #reader: VectorStore
  readonly #idle: Writer[] = []
  #closed = false

  /** Writes to `collection` through stores `make` builds on lent transactions of `storage`; `reader` answers recalls. */
  constructor(storage: StorageAdapter, make: VectorStoreFactory, collection: string, reader: VectorStore) {
    this.#storage = storage
    this.#make = make
    this.#collection = collection
    this.#reader = reader
  }

  async upsert(tx: StorageAdapter, records: readonly ValidRecord[]): Promise<void> {
    if (records.length > 0) await this.#within(tx, (store) => store.upsert(this.#collection, records))
  }

  async delete(tx: StorageAdapter, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#within(tx, (store) => store.delete(this.#collection, { ids: [...ids] }))
  }

  /** The writes committed: the reader takes a small write into its index now, or starts the build or catch-up a large one made due. */
  async settle(): Promise<void> {
    const reader = this.#reader as VectorStore & { prepareIndex?: (collection: string) => Promise<void> }
    // Only readiness rides on it: the next recall applies or starts whatever this could not.
    if (typeof reader.prepareIndex === 'function')
      await reader.prepareIndex(this.#collection).catch(() => undefined)
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const writer of this.#idle.splice(0)) await writer.store.close()
  }

  async #within<T>(tx: StorageAdapter, write: (store: VectorStore) => Promise<T>): Promise<T> {
    if (this.#closed) throw new StorageError('CLOSED', 'This memory is closed')
    // The collection and the store's own tables were set up (and committed) by the memory's main
    // store when it opened, so what a writer's set-up does inside a transaction is always a no-op
    // that a rollback cannot undo.
    const writer = this.#idle.pop() ?? this.#newWriter()
    writer.adapter.lend(tx)
    try {
      return await write(writer.store)
    } finally {
      writer.adapter.reclaim()
      if (this.#closed) await writer.store.close().catch(() => undefined)
      else this.#idle.push(writer)
    }
  }

  #newWriter(): Writer {
    const adapter = new LentAdapter(this.#storage)
    return { adapter, store: this.#make(adapter, 'writer') }
  }
}

/**
 * A `StorageAdapter` that runs every call in the transaction it is lent, and refuses calls while
 * it is not lent, so a writer store can never write outside the trace rows' transaction.
 */
class LentAdapter implements StorageAdapter {
  readonly kind: string
  readonly dialect: StorageAdapter['dialect']
  readonly capabilities: StorageCapabilities
  #tx: StorageAdapter | undefined

  constructor(storage: StorageAdapter) {
    this.kind = storage.kind
    this.dialect = storage.dialect
    this.capabilities = storage.capabilities
  }

  lend(tx: StorageAdapter): void {
    this.#tx = tx
  }

  reclaim(): void {
    this.#tx = undefined
  }

  async exec(sql: string): Promise<void> {
    return this.#target().exec(sql)
  }

  async run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#target().run(sql, params)
  }

  async get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#target().get<T>(sql, params)
  }

  async all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#target().all<T>(sql, params)
  }

  iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    return this.#target().iterate<T>(sql, params)
  }

  async transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    return this.#target().transaction(fn)
  }

  /** The transaction belongs to the memory, which ends it; there is nothing here to close. */
  async close(): Promise<void> {}

  #target(): StorageAdapter {
    if (this.#tx === undefined) {
      throw new StorageError(
        'CLOSED',
        "A memory's vector writer was used outside the transaction of the trace rows it writes with",
      )
    }
    return this.#tx
  }
}
