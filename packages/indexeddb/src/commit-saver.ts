import { StorageError } from '@engram/core'
import type { Saver } from './saver.js'
import type { TabSync } from './tab-sync.js'

/**
 * Commit durability: sql.js calls `persist` after each committed change while it holds its
 * lock, and the write resolves once IndexedDB reports the image saved (hint `'strict'`).
 */
export class CommitSaver implements Saver {
  readonly #sync: TabSync
  readonly #retry: () => Promise<void>
  /** A save failed, and sql.js keeps the change to save with the next commit or `flush()`. */
  #unsaved = false

  /** `retry` saves the change sql.js kept, under the Web Lock as any write. */
  constructor(sync: TabSync, retry: () => Promise<void>) {
    this.#sync = sync
    this.#retry = retry
  }

  get pending(): boolean {
    return this.#unsaved
  }

  readonly persist = async (image: Uint8Array): Promise<void> => {
    // The image sql.js just loaded came from IndexedDB; saving it again would wake every tab.
    if (this.#sync.reloading) return
    try {
      await this.#sync.save(image, { durability: 'strict', verify: true })
    } catch (error) {
      // Another writer saved first (BUSY): this change can never be saved, and the sync drops it
      // before the next call. Any other failure: sql.js keeps the change and saves it with the next commit.
      if (!(error instanceof StorageError && error.code === 'BUSY')) this.#unsaved = true
      throw error
    }
    this.#unsaved = false
  }

  start(): void {}

  changed(): void {}

  async saveAll(): Promise<void> {
    if (this.#unsaved) await this.#retry()
  }

  discard(): void {
    this.#unsaved = false
  }

  stop(): void {}
}
