import type { Row, RunResult, SqlDialect, SqlParams, StorageAdapter, StorageCapabilities } from '@engram/core'
import { StorageError } from '@engram/core'
import { createSqlJsAdapter, type SqlJsAdapter } from '@engram/sqljs'
import { CommitSaver } from './commit-saver.js'
import { ImageStore, indexedDbName } from './image-store.js'
import {
  type IndexedDbConfig,
  type IndexedDbDurability,
  type IndexedDbSettings,
  resolveIndexedDbConfig,
} from './indexeddb-config.js'
import { readsOnly } from './reads-only.js'
import { RelaxedSaver } from './relaxed-saver.js'
import type { Saver } from './saver.js'
import { TabSync } from './tab-sync.js'

/** A `StorageAdapter` on sql.js whose database lives in IndexedDB, shared safely by every tab. */
export interface IndexedDbAdapter extends StorageAdapter {
  /** The database name it was opened with. */
  readonly name: string
  /** When writes count as done. */
  readonly durability: IndexedDbDurability
  /** Resolves once every write made before the call is saved in IndexedDB. */
  flush(): Promise<void>
  /** A SQLite database file of the current contents (including writes not saved yet in `'relaxed'` mode). */
  export(): Promise<Uint8Array>
  /** Replaces the whole database with a SQLite file image, saved and visible to other tabs like any write. */
  import(image: Uint8Array): Promise<void>
}

/**
 * Opens a database kept in IndexedDB, through sql.js. The whole SQLite image is one IndexedDB
 * value, rewritten after each committed write (or group of writes in `'relaxed'` mode), so
 * batch many writes into one `transaction()`.
 *
 * Tabs never overwrite each other: every write takes the Web Lock named after the database,
 * reloads the image first if another tab saved a newer version, and saves before letting the
 * lock go. Reads see another tab's saved writes once its broadcast arrives.
 *
 * @example
 * const db = await createIndexedDbAdapter({ name: 'notes' })
 * await db.run('CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT)')
 */
export async function createIndexedDbAdapter(config: IndexedDbConfig): Promise<IndexedDbAdapter> {
  const settings = resolveIndexedDbConfig(config)
  const store = await ImageStore.open(settings.factory, settings.name)
  try {
    const stored = await store.read()
    const adapter = new IndexedDbStorage(settings, store, stored?.version ?? 0)
    await adapter.start(stored?.image)
    return adapter
  } catch (error) {
    store.close()
    throw error
  }
}

/** A place in the line of calls: `ready` once every earlier call has been handed to sql.js. */
interface Turn {
  readonly ready: Promise<void>
  done(): void
}

/**
 * The adapter: the `StorageAdapter` calls on sql.js, wired to the cross-tab write protocol
 * (`TabSync`: reads catch up with other tabs, writes hold the Web Lock) and to the durability
 * mode (`Saver`). Calls are handed to sql.js in the order they were made (`#turn`), so a read
 * made after a write sees it, even when the write had to wait for the lock.
 */
class IndexedDbStorage implements IndexedDbAdapter {
  readonly kind = 'indexeddb'
  readonly dialect: SqlDialect = 'sqlite'
  readonly name: string
  readonly durability: IndexedDbDurability
  capabilities!: StorageCapabilities

  readonly #settings: IndexedDbSettings
  readonly #store: ImageStore
  readonly #sync: TabSync
  readonly #saver: Saver
  #inner!: SqlJsAdapter
  readonly #running = new Set<Promise<unknown>>()
  #tail: Promise<void> = Promise.resolve()
  #closing: Promise<void> | undefined

  constructor(settings: IndexedDbSettings, store: ImageStore, version: number) {
    this.#settings = settings
    this.#store = store
    this.name = settings.name
    this.durability = settings.durability
    this.#sync = new TabSync(store, settings.locks, indexedDbName(settings.name), version, {
      load: (image) => this.#load(image),
      keepsLock: () => this.#saver.pending,
      reloaded: () => this.#saver.discard(),
    })
    // Commit mode retries a change whose save failed (sql.js kept it) under the lock, as any write.
    const retry = () => this.#write((inner) => inner.flush(), true)
    this.#saver =
      settings.durability === 'commit'
        ? new CommitSaver(this.#sync, retry)
        : new RelaxedSaver(this.#sync, () => this.#inner.export(), settings.flushDelay)
  }

  /** Opens sql.js on the saved image and starts listening to other tabs and to the page's lifecycle. */
  async start(image: Uint8Array | undefined): Promise<void> {
    const persist = this.#saver.persist
    try {
      this.#inner = await createSqlJsAdapter({
        ...this.#settings.sqlJs,
        ...(image === undefined ? {} : { data: image }),
        kind: this.kind,
        persistence: 'browser',
        ...(persist ? { persist } : {}),
      })
    } catch (error) {
      if (image === undefined) throw error
      throw this.#unusableImage(error)
    }
    this.capabilities = this.#inner.capabilities
    this.#sync.listen()
    this.#saver.start()
  }

  exec(sql: string): Promise<void> {
    return this.#write((inner) => inner.exec(sql))
  }

  run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#write((inner) => inner.run(sql, params))
  }

  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    const call = (inner: SqlJsAdapter) => inner.get<T>(sql, params)
    return readsOnly(sql) ? this.#read(call) : this.#write(call)
  }

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    const call = (inner: SqlJsAdapter) => inner.all<T>(sql, params)
    return readsOnly(sql) ? this.#read(call) : this.#write(call)
  }

  async *iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    // Like core's adapter, a loop takes its place in line when it asks for the first row.
    const writes = !readsOnly(sql)
    const turn = this.#turn()
    let cursor: AsyncIterator<T>
    let first: Promise<IteratorResult<T>>
    try {
      this.#checkOpen()
      await turn.ready
      if (writes) await this.#sync.enterWriter()
      else await this.#sync.catchUp()
    } catch (error) {
      turn.done()
      throw error
    }
    try {
      cursor = this.#inner.iterate<T>(sql, params)[Symbol.asyncIterator]()
      first = cursor.next()
      if (writes) this.#saver.changed()
    } catch (error) {
      if (writes) this.#sync.leaveWriter()
      throw error
    } finally {
      turn.done()
    }
    // A writing loop counts as a running write, so flush() and close() wait for it.
    let finished: (() => void) | undefined
    const running = writes ? new Promise<void>((resolve) => (finished = resolve)) : undefined
    if (running) this.#running.add(running)
    try {
      for (let step = await first; !step.done; step = await cursor.next()) yield step.value
    } finally {
      try {
        await cursor.return?.()
      } finally {
        if (running) this.#running.delete(running)
        finished?.()
        if (writes) this.#sync.leaveWriter()
      }
    }
  }

  transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    return this.#write((inner) => inner.transaction(fn))
  }

  async flush(): Promise<void> {
    this.#checkOpen()
    await this.#saveAll()
  }

  export(): Promise<Uint8Array> {
    return this.#read((inner) => inner.export())
  }

  import(image: Uint8Array): Promise<void> {
    // In commit mode sql.js saves the new image itself, through the commit hook, under the lock.
    return this.#write((inner) => inner.import(image))
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutDown().catch((error: unknown) => {
      // Nothing is lost: stay open so the caller can fix the cause (free space) and close again.
      this.#closing = undefined
      throw error
    })
    return this.#closing
  }

  async #shutDown(): Promise<void> {
    await this.#saveAll()
    this.#saver.stop()
    try {
      await this.#inner.close()
    } finally {
      this.#sync.close()
      this.#store.close()
    }
  }

  /** Saves every write made before the call: waits for running ones, then saves what is pending. */
  async #saveAll(): Promise<void> {
    const turn = this.#turn()
    await turn.ready
    turn.done()
    await Promise.allSettled([...this.#running])
    await this.#saver.saveAll()
  }

  /** Takes the next place in line. */
  #turn(): Turn {
    const ready = this.#tail
    let done!: () => void
    this.#tail = new Promise<void>((resolve) => {
      done = resolve
    })
    return { ready, done }
  }

  /** Runs a call that only reads, on contents at least as new as the last broadcast. */
  async #read<R>(call: (inner: SqlJsAdapter) => Promise<R>): Promise<R> {
    this.#checkOpen()
    const turn = this.#turn()
    let pending: Promise<R>
    try {
      await turn.ready
      await this.#sync.catchUp()
      pending = call(this.#inner)
    } finally {
      turn.done()
    }
    return pending
  }

  /** Runs a call that may write, holding the Web Lock until it (and in commit mode its save) is done. */
  async #write<R>(call: (inner: SqlJsAdapter) => Promise<R>, closing = false): Promise<R> {
    if (!closing) this.#checkOpen()
    const turn = this.#turn()
    let pending: Promise<R>
    try {
      await turn.ready
      await this.#sync.enterWriter()
    } catch (error) {
      turn.done()
      throw error
    }
    try {
      pending = call(this.#inner)
      this.#saver.changed()
    } catch (error) {
      this.#sync.leaveWriter()
      throw error
    } finally {
      turn.done()
    }
    this.#running.add(pending)
    try {
      return await pending
    } finally {
      this.#running.delete(pending)
      this.#sync.leaveWriter()
    }
  }

  /** Loads a saved image into sql.js; one sql.js refuses is reported with how to recover. */
  async #load(image: Uint8Array): Promise<void> {
    try {
      await this.#inner.import(image)
    } catch (error) {
      throw this.#unusableImage(error)
    }
  }

  /** A stored image sql.js refuses, as an error that says how to recover; other errors pass through. */
  #unusableImage(error: unknown): unknown {
    if (!(error instanceof StorageError) || error.code !== 'INVALID_ARGUMENT') return error
    const where = indexedDbName(this.name)
    return new StorageError(
      'CONNECTION_FAILED',
      `The image stored in IndexedDB database "${where}" cannot be opened (${error.message}). Delete it with indexedDB.deleteDatabase("${where}") to start empty, then import() a backup if you have one`,
      { cause: error },
    )
  }

  #checkOpen(): void {
    if (this.#closing) throw new StorageError('CLOSED', `The indexeddb adapter "${this.name}" is closed`)
  }
}
