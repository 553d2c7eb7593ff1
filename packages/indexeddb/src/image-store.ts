import { StorageError } from '@engram/core'

/** The object store holding the image and its meta record, in an IndexedDB database of its own. */
const STORE = 'sqlite'
const IMAGE_KEY = 'image'
const META_KEY = 'meta'

/** What the meta record says about the stored image; read alone, it is a cheap version check. */
interface ImageMeta {
  /** Increases by one with every saved image; 0 means nothing was ever saved. */
  version: number
  /** The image's size in bytes. */
  bytes: number
  /** When it was saved (ms since the epoch), for people inspecting storage. */
  savedAt: number
}

/** An image as IndexedDB holds it, with its version. */
export interface StoredImage {
  /** The image's version; see `ImageStore.write`. */
  readonly version: number
  /** The SQLite database file. */
  readonly image: Uint8Array
}

/** How `ImageStore.write` saves. */
export interface WriteOptions {
  /** The IndexedDB durability hint: `'strict'` waits for the disk, `'relaxed'` for the OS. */
  durability: 'strict' | 'relaxed'
  /**
   * Check, inside the writing transaction, that the stored version is still `base` and abort
   * otherwise. Off only where the caller's lock already guarantees it and a round trip would
   * not finish in time (while the page is being hidden or unloaded).
   */
  verify: boolean
}

/** The IndexedDB database name for an engram database name, so it never collides with an app's own. */
export function indexedDbName(name: string): string {
  return `engram:${name}`
}

/**
 * One database image in IndexedDB: the SQLite file as one `ArrayBuffer` value beside a small
 * meta record with a version number, both written in one transaction so readers always see a
 * matching pair. Every write replaces the previous image.
 */
export class ImageStore {
  readonly #factory: IDBFactory
  readonly #name: string
  #db: IDBDatabase | undefined
  #opening: Promise<IDBDatabase> | undefined
  #closed = false

  private constructor(factory: IDBFactory, name: string) {
    this.#factory = factory
    this.#name = name
  }

  /** Opens (creating when needed) the IndexedDB database for `name`. */
  static async open(factory: IDBFactory, name: string): Promise<ImageStore> {
    const store = new ImageStore(factory, name)
    await store.#connection()
    return store
  }

  /** The version of the stored image; 0 when nothing was saved yet. */
  async version(): Promise<number> {
    const db = await this.#connection()
    const meta = await new Promise<ImageMeta | undefined>((resolve, reject) => {
      const tx = this.#reading(db, reject)
      if (!tx) return
      const request = tx.objectStore(STORE).get(META_KEY)
      tx.oncomplete = () => resolve(request.result as ImageMeta | undefined)
      tx.onabort = () => reject(readFailed(this.#name, tx.error))
    })
    return meta?.version ?? 0
  }

  /** The stored image and its version, read together; `undefined` when nothing was saved yet. */
  async read(): Promise<StoredImage | undefined> {
    const db = await this.#connection()
    return new Promise<StoredImage | undefined>((resolve, reject) => {
      const tx = this.#reading(db, reject)
      if (!tx) return
      const store = tx.objectStore(STORE)
      const meta = store.get(META_KEY)
      const image = store.get(IMAGE_KEY)
      tx.oncomplete = () => {
        const version = (meta.result as ImageMeta | undefined)?.version ?? 0
        const bytes = image.result as ArrayBuffer | undefined
        resolve(version === 0 || bytes === undefined ? undefined : { version, image: new Uint8Array(bytes) })
      }
      tx.onabort = () => reject(readFailed(this.#name, tx.error))
    })
  }

  /**
   * Saves `image` as version `base + 1` and resolves with that version once IndexedDB reports
   * the transaction complete. With `verify`, a stored version other than `base` (another tab
   * saved first) aborts the transaction and rejects with `BUSY`, leaving the store untouched.
   */
  write(image: Uint8Array, base: number, options: WriteOptions): Promise<number> {
    // On the urgent path every request must be issued before this task ends, so use the open
    // connection synchronously rather than awaiting anything first.
    if (this.#db) return this.#write(this.#db, image, base, options)
    return this.#connection().then((db) => this.#write(db, image, base, options))
  }

  /** Closes the IndexedDB connection. */
  close(): void {
    this.#closed = true
    this.#db?.close()
    this.#db = undefined
  }

  /** A read-only transaction, or `undefined` after rejecting when the connection is closing. */
  #reading(db: IDBDatabase, reject: (error: StorageError) => void): IDBTransaction | undefined {
    try {
      return db.transaction(STORE, 'readonly')
    } catch (error) {
      reject(readFailed(this.#name, error))
      return undefined
    }
  }

  #write(db: IDBDatabase, image: Uint8Array, base: number, options: WriteOptions): Promise<number> {
    const next = base + 1
    const bytes =
      image.byteOffset === 0 && image.byteLength === image.buffer.byteLength
        ? image.buffer
        : image.slice().buffer
    return new Promise<number>((resolve, reject) => {
      let found: number | undefined
      let tx: IDBTransaction
      try {
        tx = db.transaction(STORE, 'readwrite', { durability: options.durability })
      } catch (error) {
        reject(persistFailed(this.#name, error, image.byteLength))
        return
      }
      const store = tx.objectStore(STORE)
      const save = (): void => {
        store.put(bytes, IMAGE_KEY)
        store.put(
          { version: next, bytes: image.byteLength, savedAt: Date.now() } satisfies ImageMeta,
          META_KEY,
        )
        // Commit now instead of when the event loop next turns: during pagehide it may not.
        if (typeof tx.commit === 'function') tx.commit()
      }
      if (options.verify) {
        const request = store.get(META_KEY)
        request.onsuccess = () => {
          const current = (request.result as ImageMeta | undefined)?.version ?? 0
          if (current === base) return save()
          found = current
          tx.abort()
        }
      } else {
        save()
      }
      tx.oncomplete = () => resolve(next)
      tx.onabort = () => {
        if (found !== undefined) {
          reject(
            new StorageError(
              'BUSY',
              `Another tab or adapter saved "${this.#name}" (version ${found}) while this one was writing on version ${base}, so this change was not saved; retry it. Writers that share a lock manager (navigator.locks in a browser, one LocalLockManager in Node) never collide, so one of them was given its own \`locks\``,
            ),
          )
        } else {
          reject(persistFailed(this.#name, tx.error, image.byteLength))
        }
      }
    })
  }

  /** The open connection, reopened if the browser closed it (storage cleared, database deleted). */
  #connection(): Promise<IDBDatabase> {
    if (this.#closed) return Promise.reject(new StorageError('CLOSED', 'The IndexedDB image store is closed'))
    if (this.#db) return Promise.resolve(this.#db)
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined
    })
    return this.#opening
  }

  #open(): Promise<IDBDatabase> {
    const name = indexedDbName(this.#name)
    return new Promise<IDBDatabase>((resolve, reject) => {
      let request: IDBOpenDBRequest
      try {
        request = this.#factory.open(name, 1)
      } catch (error) {
        reject(openFailed(this.#name, error))
        return
      }
      request.onupgradeneeded = () => {
        const db = request.result
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE)
      }
      request.onsuccess = () => {
        const db = request.result
        // Let another page delete or upgrade the database instead of blocking it; the next
        // call opens it again.
        db.onversionchange = () => {
          db.close()
          if (this.#db === db) this.#db = undefined
        }
        db.onclose = () => {
          if (this.#db === db) this.#db = undefined
        }
        if (this.#closed) {
          db.close()
          reject(new StorageError('CLOSED', 'The IndexedDB image store is closed'))
          return
        }
        this.#db = db
        resolve(db)
      }
      request.onerror = () => reject(openFailed(this.#name, request.error))
      request.onblocked = () =>
        reject(
          new StorageError(
            'BUSY',
            `IndexedDB database "${name}" is held open at an older version by another tab; close that tab and retry`,
          ),
        )
    })
  }
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: unknown } | null)?.name as string | undefined
}

function openFailed(name: string, error: unknown): StorageError {
  const detail = error instanceof Error ? error.message : String(error)
  // These mean the page may not use IndexedDB at all (opaque origin, storage disabled, some
  // private modes): the runtime cannot host this driver, so `type: 'auto'` moves on.
  const refused = ['SecurityError', 'InvalidStateError', 'InvalidAccessError'].includes(
    errorName(error) ?? '',
  )
  return new StorageError(
    refused ? 'UNSUPPORTED' : 'CONNECTION_FAILED',
    refused
      ? `This page may not use IndexedDB (${detail}); serve it from an http(s) origin with storage allowed`
      : `Could not open IndexedDB database "${indexedDbName(name)}": ${detail}`,
    { cause: error },
  )
}

function readFailed(name: string, error: unknown): StorageError {
  const detail = error instanceof Error ? error.message : String(error)
  return new StorageError('CONNECTION_FAILED', `Could not read "${name}" from IndexedDB: ${detail}`, {
    cause: error,
  })
}

function persistFailed(name: string, error: unknown, bytes: number): StorageError {
  const detail = error instanceof Error ? error.message : String(error)
  const size = `${(bytes / 1024 / 1024).toFixed(1)} MB`
  const message =
    errorName(error) === 'QuotaExceededError'
      ? `The browser refused to store "${name}" (${size}): the storage quota is used up. Delete data, or ask for more room with navigator.storage.persist()`
      : `Could not save "${name}" (${size}) to IndexedDB: ${detail}`
  const kept = 'The change is kept in this tab and saved with the next commit or flush().'
  return new StorageError('PERSIST_FAILED', `${message}. ${kept}`, { cause: error })
}
