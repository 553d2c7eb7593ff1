import type { Row, RunResult, SqlDialect, SqlParams, StorageAdapter, StorageCapabilities } from '@engram/core'
import { StorageError } from '@engram/core'
import { createSqlJsAdapter, type SqlJsAdapter, type SqlJsConfig } from '@engram/sqljs'
import { type HeldLock, holdLock } from './hold-lock.js'
import { ImageStore, indexedDbName } from './image-store.js'

/** When a write counts as done: once IndexedDB holds it (`'commit'`), or at once (`'relaxed'`). */
export type IndexedDbDurability = 'commit' | 'relaxed'

/** Configuration for `createIndexedDbAdapter`. */
export interface IndexedDbConfig {
  /**
   * The database's name: 1 to 200 characters, no control characters. The image is kept in the
   * IndexedDB database `engram:<name>`; tabs that open the same name share it.
   */
  name: string
  /**
   * `'commit'`: a write resolves once IndexedDB reports it saved (durability hint `'strict'`).
   * `'relaxed'`: writes resolve at once and are saved together shortly after (see
   * `flushDelay`), when the page is hidden or unloaded, and on `flush()` and `close()`; a
   * crash may lose the last moments. Default is `'commit'`.
   */
  durability?: IndexedDbDurability
  /** In `'relaxed'` mode, how long (ms) after the first unsaved write the image is saved. Default is `100`. */
  flushDelay?: number
  /** The IndexedDB factory. Default is `globalThis.indexedDB`; pass `fake-indexeddb`'s in Node. */
  indexedDB?: IDBFactory
  /**
   * The Web Locks manager tabs coordinate writes through. Default is `navigator.locks`; in
   * Node, give every adapter on one database the same `LocalLockManager`.
   */
  locks?: LockManager
  /** An initialised sql.js module; by default the bundled one is loaded. */
  sqlJs?: SqlJsConfig['sqlJs']
  /** Maps the sql.js `.wasm` file name to the URL it is served from (for bundlers that move it). */
  locateFile?: SqlJsConfig['locateFile']
  /** The sql.js `.wasm` bytes, so nothing is fetched. */
  wasmBinary?: SqlJsConfig['wasmBinary']
  /** Enforce foreign keys. Default is `true`. */
  foreignKeys?: boolean
}

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

/** The message a tab broadcasts after saving, so the others reload before their next call. */
interface SavedMessage {
  version: number
}

const NAME_PATTERN = /^[^\p{Cc}]{1,200}$/u
const RETRY_DELAY = 1000

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
  const settings = validate(config)
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

/** The checked configuration, with defaults filled in. */
interface Settings {
  readonly name: string
  readonly durability: IndexedDbDurability
  readonly flushDelay: number
  readonly factory: IDBFactory
  readonly locks: LockManager
  readonly sqlJs: Partial<Pick<SqlJsConfig, 'sqlJs' | 'locateFile' | 'wasmBinary' | 'foreignKeys'>>
}

function validate(config: IndexedDbConfig): Settings {
  if (config === null || typeof config !== 'object') {
    throw new StorageError('INVALID_ARGUMENT', 'createIndexedDbAdapter() needs a config object with a name')
  }
  const { name, durability = 'commit', flushDelay = 100 } = config
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `The IndexedDB database name must be a string of 1 to 200 characters without control characters; got ${JSON.stringify(name)}`,
    )
  }
  if (durability !== 'commit' && durability !== 'relaxed') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `durability must be 'commit' or 'relaxed'; got ${JSON.stringify(durability)}`,
    )
  }
  if (typeof flushDelay !== 'number' || !Number.isFinite(flushDelay) || flushDelay < 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `flushDelay must be a number of milliseconds ≥ 0; got ${flushDelay}`,
    )
  }
  const g = globalThis as { indexedDB?: IDBFactory; navigator?: { locks?: LockManager } }
  const factory = config.indexedDB ?? g.indexedDB
  if (!factory || typeof factory.open !== 'function') {
    throw new StorageError(
      'UNSUPPORTED',
      'IndexedDB is not available in this runtime; use @engram/sqljs, or pass `indexedDB` (fake-indexeddb in Node)',
    )
  }
  const locks = config.locks ?? g.navigator?.locks
  if (!locks || typeof locks.request !== 'function') {
    throw new StorageError(
      'UNSUPPORTED',
      'The Web Locks API (navigator.locks) is not available, and without it tabs could overwrite each other. Browsers offer it only in secure contexts: serve the page over https:// or from localhost, or pass `locks` (a LocalLockManager in Node)',
    )
  }
  const sqlJs: Settings['sqlJs'] = {}
  if (config.sqlJs !== undefined) sqlJs.sqlJs = config.sqlJs
  if (config.locateFile !== undefined) sqlJs.locateFile = config.locateFile
  if (config.wasmBinary !== undefined) sqlJs.wasmBinary = config.wasmBinary
  if (config.foreignKeys !== undefined) sqlJs.foreignKeys = config.foreignKeys
  return { name, durability, flushDelay, factory, locks, sqlJs }
}

/** A place in the line of calls: `ready` once every earlier call has been handed to sql.js. */
interface Turn {
  readonly ready: Promise<void>
  done(): void
}

/**
 * The adapter. Its state machine, in short:
 * - `#version` is the saved version the sql.js contents are based on.
 * - A write first joins or takes the Web Lock (`#hold`); taking it compares `#version` with
 *   IndexedDB and reloads when another tab saved since. While the lock is held nobody else can
 *   save, so every saved image extends the one before it.
 * - The lock is let go once no write is running (`#writers`), nothing is waiting to be saved
 *   (`#dirty`, relaxed mode) and no save is under way (`#saving`).
 * - Calls are handed to sql.js in the order they were made (`#turn`), so a read made after a
 *   write sees it, even when the write had to wait for the lock.
 */
class IndexedDbStorage implements IndexedDbAdapter {
  readonly kind = 'indexeddb'
  readonly dialect: SqlDialect = 'sqlite'
  readonly name: string
  readonly durability: IndexedDbDurability
  capabilities!: StorageCapabilities

  readonly #settings: Settings
  readonly #store: ImageStore
  readonly #lockName: string
  #inner!: SqlJsAdapter
  #channel: BroadcastChannel | undefined
  #version: number
  /** The highest version other tabs announced; above `#version` means this copy is behind. */
  #announced = 0
  /** Set when another writer saved first, so this copy's last change can never be saved: reload before use. */
  #mustReload = false
  /** Commit mode: a save failed, and sql.js keeps the change to save with the next commit or `flush()`. */
  #unsaved = false
  /** Set while sql.js loads an image that is already saved, so it is not saved again. */
  #reloading = false
  #hold: HeldLock | undefined
  #acquiring: Promise<void> | undefined
  #writers = 0
  readonly #running = new Set<Promise<unknown>>()
  #dirty = false
  #saving = false
  #saves: Promise<void> = Promise.resolve()
  #timer: ReturnType<typeof setTimeout> | undefined
  #saveError: unknown
  #tail: Promise<void> = Promise.resolve()
  #closing: Promise<void> | undefined
  #closed = false
  readonly #onPageHide = (): void => this.#saveUrgently()
  readonly #onVisibility = (): void => {
    const document = (globalThis as { document?: { visibilityState?: string } }).document
    if (document?.visibilityState === 'hidden') this.#saveUrgently()
  }

  constructor(settings: Settings, store: ImageStore, version: number) {
    this.#settings = settings
    this.#store = store
    this.#version = version
    this.name = settings.name
    this.durability = settings.durability
    this.#lockName = indexedDbName(settings.name)
  }

  /** Opens sql.js on the saved image and starts listening to other tabs and to the page's lifecycle. */
  async start(image: Uint8Array | undefined): Promise<void> {
    const commit = this.durability === 'commit'
    try {
      this.#inner = await createSqlJsAdapter({
        ...this.#settings.sqlJs,
        ...(image === undefined ? {} : { data: image }),
        kind: this.kind,
        persistence: 'browser',
        ...(commit ? { persist: (saved: Uint8Array) => this.#saveCommitted(saved) } : {}),
      })
    } catch (error) {
      if (image === undefined) throw error
      throw this.#unusableImage(error)
    }
    this.capabilities = this.#inner.capabilities
    if (typeof BroadcastChannel === 'function') {
      const channel = new BroadcastChannel(this.#lockName)
      channel.onmessage = (event: MessageEvent<SavedMessage>) => {
        const version = event.data?.version
        if (typeof version === 'number' && version > this.#announced) this.#announced = version
      }
      // Node keeps the process alive for an open channel; a browser tab does not care.
      ;(channel as { unref?: () => void }).unref?.()
      this.#channel = channel
    }
    if (!commit) {
      const g = globalThis as { addEventListener?: EventTarget['addEventListener']; document?: EventTarget }
      g.addEventListener?.('pagehide', this.#onPageHide)
      ;(g.document ?? g).addEventListener?.('visibilitychange', this.#onVisibility)
    }
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
      if (writes) await this.#enterWriter()
      else await this.#catchUp()
    } catch (error) {
      turn.done()
      throw error
    }
    try {
      cursor = this.#inner.iterate<T>(sql, params)[Symbol.asyncIterator]()
      first = cursor.next()
      if (writes) this.#changed()
    } catch (error) {
      if (writes) this.#leaveWriter()
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
        if (writes) this.#leaveWriter()
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
    this.#closed = true
    clearTimeout(this.#timer)
    const g = globalThis as {
      removeEventListener?: EventTarget['removeEventListener']
      document?: EventTarget
    }
    g.removeEventListener?.('pagehide', this.#onPageHide)
    ;(g.document ?? g).removeEventListener?.('visibilitychange', this.#onVisibility)
    try {
      await this.#inner.close()
    } finally {
      this.#channel?.close()
      this.#hold?.release()
      this.#hold = undefined
      this.#store.close()
    }
  }

  /** Saves every write made before the call: waits for running ones, then saves what is pending. */
  async #saveAll(): Promise<void> {
    const turn = this.#turn()
    await turn.ready
    turn.done()
    await Promise.allSettled([...this.#running])
    if (this.durability === 'relaxed') return this.#save(false)
    // sql.js kept a change whose save failed; retry under the lock, as any write.
    if (this.#unsaved) await this.#write((inner) => inner.flush(), true)
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
      await this.#catchUp()
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
      await this.#enterWriter()
    } catch (error) {
      turn.done()
      throw error
    }
    try {
      pending = call(this.#inner)
      this.#changed()
    } catch (error) {
      this.#leaveWriter()
      throw error
    } finally {
      turn.done()
    }
    this.#running.add(pending)
    try {
      return await pending
    } finally {
      this.#running.delete(pending)
      this.#leaveWriter()
    }
  }

  /** Joins the Web Lock this tab holds, or takes it and catches up with what other tabs saved. */
  async #enterWriter(): Promise<void> {
    this.#writers++
    if (this.#hold !== undefined) return
    try {
      this.#acquiring ??= this.#acquire().finally(() => {
        this.#acquiring = undefined
      })
      await this.#acquiring
    } catch (error) {
      this.#leaveWriter()
      throw error
    }
  }

  async #acquire(): Promise<void> {
    const hold = await holdLock(this.#settings.locks, this.#lockName)
    try {
      // Under the lock the saved version cannot move, so this check is final.
      const saved = await this.#store.version()
      if (saved !== this.#version || this.#mustReload) await this.#reload()
    } catch (error) {
      hold.release()
      throw error
    }
    this.#hold = hold
  }

  #leaveWriter(): void {
    this.#writers--
    this.#releaseIfIdle()
  }

  /** Notes a write handed to sql.js; relaxed mode saves it shortly. */
  #changed(): void {
    if (this.durability === 'commit') return
    // Set as the call is handed over: a save exports after every call handed over before it.
    this.#dirty = true
    this.#schedule(this.#settings.flushDelay)
  }

  #releaseIfIdle(): void {
    // A change whose save failed keeps the lock: another tab's write would make this tab reload
    // and drop it, and the error promised it is kept until the next commit or flush() saves it.
    if (this.#hold === undefined || this.#writers > 0 || this.#dirty || this.#saving || this.#unsaved) return
    const hold = this.#hold
    this.#hold = undefined
    hold.release()
  }

  /** Reloads before a read when another tab saved since, unless this tab holds the lock (then nobody did). */
  async #catchUp(): Promise<void> {
    if (this.#hold !== undefined || this.#acquiring !== undefined) return
    if (this.#mustReload || this.#announced > this.#version) return this.#reload()
    if (this.#channel === undefined && (await this.#store.version()) !== this.#version) return this.#reload()
  }

  /** Replaces the sql.js contents with the saved image. Only called while no write of this tab is running. */
  async #reload(): Promise<void> {
    const stored = await this.#store.read()
    // Nothing stored (the site's data was cleared): keep this tab's copy; its next commit saves it.
    if (stored !== undefined) {
      this.#reloading = true
      try {
        await this.#inner.import(stored.image)
      } catch (error) {
        throw this.#unusableImage(error)
      } finally {
        this.#reloading = false
      }
    }
    this.#version = stored?.version ?? 0
    this.#mustReload = false
    this.#unsaved = false
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

  /** Commit mode's save, which sql.js runs after each committed change while it holds its lock. */
  async #saveCommitted(image: Uint8Array): Promise<void> {
    // The image sql.js just loaded came from IndexedDB; saving it again would wake every tab.
    if (this.#reloading) return
    try {
      this.#version = await this.#store.write(image, this.#version, { durability: 'strict', verify: true })
    } catch (error) {
      // Another writer saved first: this change can never be saved, so drop it before the next
      // call. Any other failure: sql.js keeps the change and saves it with the next commit.
      if (error instanceof StorageError && error.code === 'BUSY') this.#mustReload = true
      else this.#unsaved = true
      throw error
    }
    this.#unsaved = false
    this.#announce()
  }

  #announce(): void {
    try {
      this.#channel?.postMessage({ version: this.#version } satisfies SavedMessage)
    } catch {
      // A closed channel (the adapter is closing) has nobody left to tell.
    }
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      // A failure is kept for flush()/close() and retried by #saveOnce itself.
      this.#save(false).catch(() => undefined)
    }, delay)
  }

  /** Saves now without waiting for anything that might not run while the page goes away. */
  #saveUrgently(): void {
    this.#save(true).catch(() => undefined)
  }

  /** Saves relaxed mode's pending writes, one save at a time. */
  #save(urgent: boolean): Promise<void> {
    const run = this.#saves.then(() => this.#saveOnce(urgent))
    this.#saves = run.catch(() => undefined)
    return run
  }

  async #saveOnce(urgent: boolean): Promise<void> {
    if (!this.#dirty) {
      if (this.#saveError === undefined) return
      const error = this.#saveError
      this.#saveError = undefined
      throw error
    }
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#dirty = false
    this.#saving = true
    try {
      const image = await this.#inner.export()
      // The lock has been held since the first pending write, so skipping the check is safe.
      this.#version = await this.#store.write(image, this.#version, {
        durability: 'relaxed',
        verify: !urgent,
      })
      this.#saveError = undefined
      this.#announce()
    } catch (error) {
      if (error instanceof StorageError && error.code === 'BUSY') {
        // Another writer saved first: these writes cannot be saved; return to what is saved.
        this.#mustReload = true
      } else {
        // Keep the writes and the lock, and try again: relaxed writes have already resolved,
        // so this is their only way into IndexedDB.
        this.#dirty = true
        this.#schedule(Math.max(this.#settings.flushDelay, RETRY_DELAY))
      }
      this.#saveError = error
      throw error
    } finally {
      this.#saving = false
      this.#releaseIfIdle()
    }
  }

  #checkOpen(): void {
    if (this.#closing) throw new StorageError('CLOSED', `The indexeddb adapter "${this.name}" is closed`)
  }
}

/**
 * Whether a statement only reads, judged by its first keyword: SELECT, VALUES and EXPLAIN, and
 * WITH when no INSERT, UPDATE, DELETE or REPLACE appears anywhere in it (even inside a string,
 * which only costs a lock). Anything else, PRAGMA included, is treated as a write.
 */
function readsOnly(sql: string): boolean {
  if (typeof sql !== 'string') return true
  const start = sql.replace(/^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/, '')
  if (/^(?:select|values|explain)\b/i.test(start)) return true
  return /^with\b/i.test(start) && !/\b(?:insert|update|delete|replace)\b/i.test(start)
}
