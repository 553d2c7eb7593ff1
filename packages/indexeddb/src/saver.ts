/** How a durability mode gets the sql.js contents into IndexedDB. */
export interface Saver {
  /** Whether a change still waits to be saved (or is being saved), so the Web Lock must be kept. */
  readonly pending: boolean
  /** The hook sql.js calls after each committed change, in the mode that saves per commit. */
  readonly persist: ((image: Uint8Array) => Promise<void>) | undefined
  /** Starts saving when the page is hidden or unloaded, in the mode that needs it. */
  start(): void
  /** Notes a write handed to sql.js. */
  changed(): void
  /** Saves every change handed to sql.js before the call; rejects with the reason a save failed. */
  saveAll(): Promise<void>
  /** Forgets the changes waiting to be saved, once a reload has replaced them. */
  discard(): void
  /** Stops timers and page listeners, when the adapter closes. */
  stop(): void
}
