import { StorageError } from '@engram/core'
import type { Saver } from './saver.js'
import type { TabSync } from './tab-sync.js'

/** How long (ms) at least before a failed relaxed save is tried again. */
const RETRY_DELAY = 1000

/**
 * Relaxed durability: writes resolve at once and are saved together `flushDelay` ms after the
 * first unsaved one, when the page is hidden or unloaded, and on `saveAll()`; one save at a time.
 */
export class RelaxedSaver implements Saver {
  readonly persist = undefined
  readonly #sync: TabSync
  readonly #image: () => Promise<Uint8Array>
  readonly #flushDelay: number
  #dirty = false
  #saving = false
  #saves: Promise<void> = Promise.resolve()
  #timer: ReturnType<typeof setTimeout> | undefined
  #saveError: unknown
  #stopped = false
  readonly #onPageHide = (): void => this.#saveUrgently()
  readonly #onVisibility = (): void => {
    const document = (globalThis as { document?: { visibilityState?: string } }).document
    if (document?.visibilityState === 'hidden') this.#saveUrgently()
  }

  /** `image` exports the current sql.js contents. */
  constructor(sync: TabSync, image: () => Promise<Uint8Array>, flushDelay: number) {
    this.#sync = sync
    this.#image = image
    this.#flushDelay = flushDelay
  }

  get pending(): boolean {
    return this.#dirty || this.#saving
  }

  start(): void {
    const g = globalThis as { addEventListener?: EventTarget['addEventListener']; document?: EventTarget }
    g.addEventListener?.('pagehide', this.#onPageHide)
    ;(g.document ?? g).addEventListener?.('visibilitychange', this.#onVisibility)
  }

  changed(): void {
    // Set as the call is handed over: a save exports after every call handed over before it.
    this.#dirty = true
    this.#schedule(this.#flushDelay)
  }

  saveAll(): Promise<void> {
    return this.#save(false)
  }

  discard(): void {
    // Unsaved relaxed writes keep the Web Lock, and a tab holding it never reloads: nothing to drop.
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    const g = globalThis as {
      removeEventListener?: EventTarget['removeEventListener']
      document?: EventTarget
    }
    g.removeEventListener?.('pagehide', this.#onPageHide)
    ;(g.document ?? g).removeEventListener?.('visibilitychange', this.#onVisibility)
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined || this.#stopped) return
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

  /** Saves the pending writes, one save at a time. */
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
      const image = await this.#image()
      // The lock has been held since the first pending write, so skipping the check is safe.
      await this.#sync.save(image, { durability: 'relaxed', verify: !urgent })
      this.#saveError = undefined
    } catch (error) {
      // BUSY: another writer saved first, so these writes cannot be saved and the sync returns to
      // what is saved. Otherwise keep the writes and the lock, and try again: relaxed writes have
      // already resolved, so this is their only way into IndexedDB.
      if (!(error instanceof StorageError && error.code === 'BUSY')) {
        this.#dirty = true
        this.#schedule(Math.max(this.#flushDelay, RETRY_DELAY))
      }
      this.#saveError = error
      throw error
    } finally {
      this.#saving = false
      this.#sync.releaseIfIdle()
    }
  }
}
