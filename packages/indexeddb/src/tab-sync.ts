import { StorageError } from '@engram/core'
import { type HeldLock, holdLock } from './hold-lock.js'
import type { ImageStore, WriteOptions } from './image-store.js'

/** The message a tab broadcasts after saving, so the others reload before their next call. */
interface SavedMessage {
  version: number
}

/** What the protocol needs from the adapter it serves. */
export interface TabSyncHooks {
  /** Replaces the sql.js contents with a saved image. */
  load(image: Uint8Array): Promise<void>
  /** Whether a change still waits to be saved (or is being saved), so the Web Lock must be kept. */
  keepsLock(): boolean
  /** Called once a reload has replaced this tab's contents with the saved image. */
  reloaded(): void
}

/**
 * The cross-tab write protocol, so tabs never overwrite each other:
 * - `#version` is the saved version this tab's sql.js contents are based on.
 * - A write first joins or takes the Web Lock named after the database (`#hold`); taking it
 *   compares `#version` with IndexedDB and reloads when another tab saved since. While the lock
 *   is held nobody else can save, so every saved image extends the one before it.
 * - The lock is let go once no write is running (`#writers`) and nothing waits to be saved.
 * - After saving, a tab broadcasts the new version; the others reload before their next read.
 */
export class TabSync {
  readonly #store: ImageStore
  readonly #locks: LockManager
  readonly #lockName: string
  readonly #hooks: TabSyncHooks
  #channel: BroadcastChannel | undefined
  #version: number
  /** The highest version other tabs announced; above `#version` means this copy is behind. */
  #announced = 0
  /** Set when another writer saved first, so this copy's last change can never be saved: reload before use. */
  #mustReload = false
  /** Set while sql.js loads an image that is already saved, so it is not saved again. */
  #reloading = false
  #hold: HeldLock | undefined
  #acquiring: Promise<void> | undefined
  #writers = 0

  constructor(store: ImageStore, locks: LockManager, lockName: string, version: number, hooks: TabSyncHooks) {
    this.#store = store
    this.#locks = locks
    this.#lockName = lockName
    this.#version = version
    this.#hooks = hooks
  }

  /** Whether sql.js is loading an image that IndexedDB already holds. */
  get reloading(): boolean {
    return this.#reloading
  }

  /** Starts hearing other tabs' saves, where the runtime has BroadcastChannel. */
  listen(): void {
    if (typeof BroadcastChannel !== 'function') return
    const channel = new BroadcastChannel(this.#lockName)
    channel.onmessage = (event: MessageEvent<SavedMessage>) => {
      const version = event.data?.version
      if (typeof version === 'number' && version > this.#announced) this.#announced = version
    }
    // Node keeps the process alive for an open channel; a browser tab does not care.
    ;(channel as { unref?: () => void }).unref?.()
    this.#channel = channel
  }

  /** Joins the Web Lock this tab holds, or takes it and catches up with what other tabs saved. */
  async enterWriter(): Promise<void> {
    this.#writers++
    if (this.#hold !== undefined) return
    try {
      this.#acquiring ??= this.#acquire().finally(() => {
        this.#acquiring = undefined
      })
      await this.#acquiring
    } catch (error) {
      this.leaveWriter()
      throw error
    }
  }

  /** Ends a write that `enterWriter` let in, and lets the lock go when this tab is idle. */
  leaveWriter(): void {
    this.#writers--
    this.releaseIfIdle()
  }

  /** Lets the Web Lock go once no write is running and nothing waits to be saved. */
  releaseIfIdle(): void {
    // A change whose save failed keeps the lock: another tab's write would make this tab reload
    // and drop it, and the error promised it is kept until the next commit or flush() saves it.
    if (this.#hold === undefined || this.#writers > 0 || this.#hooks.keepsLock()) return
    const hold = this.#hold
    this.#hold = undefined
    hold.release()
  }

  /** Reloads before a read when another tab saved since, unless this tab holds the lock (then nobody did). */
  async catchUp(): Promise<void> {
    if (this.#hold !== undefined || this.#acquiring !== undefined) return
    if (this.#mustReload || this.#announced > this.#version) return this.#reload()
    if (this.#channel === undefined && (await this.#store.version()) !== this.#version) return this.#reload()
  }

  /**
   * Saves `image` as the version after this copy's and tells the other tabs. A failed save is
   * rethrown; `BUSY` (another writer saved first) also means this copy reloads before its next call.
   */
  async save(image: Uint8Array, options: WriteOptions): Promise<void> {
    try {
      this.#version = await this.#store.write(image, this.#version, options)
    } catch (error) {
      if (error instanceof StorageError && error.code === 'BUSY') this.#mustReload = true
      throw error
    }
    this.#announce()
  }

  /** Stops hearing other tabs and lets the Web Lock go. */
  close(): void {
    this.#channel?.close()
    this.#hold?.release()
    this.#hold = undefined
  }

  async #acquire(): Promise<void> {
    const hold = await holdLock(this.#locks, this.#lockName)
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

  /** Replaces the sql.js contents with the saved image. Only called while no write of this tab is running. */
  async #reload(): Promise<void> {
    const stored = await this.#store.read()
    // Nothing stored (the site's data was cleared): keep this tab's copy; its next commit saves it.
    if (stored !== undefined) {
      this.#reloading = true
      try {
        await this.#hooks.load(stored.image)
      } finally {
        this.#reloading = false
      }
    }
    this.#version = stored?.version ?? 0
    this.#mustReload = false
    this.#hooks.reloaded()
  }

  #announce(): void {
    try {
      this.#channel?.postMessage({ version: this.#version } satisfies SavedMessage)
    } catch {
      // A closed channel (the adapter is closing) has nobody left to tell.
    }
  }
}
