/**
 * What a memory warns about: a search tier its defaults promise that it cannot give.
 * - `'hnsw-unavailable'`: the embedded default has no HNSW index (the sidecar is not installed
 *   or cannot load, or the database has no file to keep it beside), so vector search stays an
 *   exact scan past `exactBelow` records. Results are the same; only their cost grows.
 * - `'full-text-unavailable'`: the SQLite build has no FTS5 or FTS4, so recall without a `mode`
 *   runs on vectors alone instead of hybrid.
 */
export type MemoryWarningKind = 'hnsw-unavailable' | 'full-text-unavailable'

/** A warning from a memory: its kind, and a message that says what to do about it. */
export interface MemoryWarning {
  /** Which promise cannot be kept. */
  kind: MemoryWarningKind
  /** What happens instead, and how to fix it. */
  message: string
}

/** Receives a memory's warnings; each kind reaches it at most once per memory. */
export type MemoryWarningHandler = (warning: MemoryWarning) => void

const printed = new Set<MemoryWarningKind>()

/** The `'full-text-unavailable'` message for a database of this kind. */
export function noFullText(kind: string): string {
  return `Recall runs on vectors alone, not hybrid: this ${kind} database's SQLite has neither FTS5 nor FTS4. Use a driver whose SQLite has full-text search (@engram/sqlite-native has FTS5, @engram/sqljs FTS4), or pass mode: 'vector' to choose vector recall.`
}

/** The default handler: one `console.warn` per process for each kind, however many memories are open. */
export function warnOncePerProcess(warning: MemoryWarning): void {
  if (printed.has(warning.kind)) return
  printed.add(warning.kind)
  console.warn(`[@engram/memory] ${warning.message}`)
}

/**
 * One memory's warnings: each kind is passed to the handler once. The HNSW warning waits until a
 * collection reaches `exactBelow` records, the point where the index would have taken over, so a
 * small memory that never needs it is never told about it.
 */
export class TierWarnings {
  readonly #handler: MemoryWarningHandler
  readonly #given = new Set<MemoryWarningKind>()
  /** Why the HNSW tier is missing, the collection, and the record count from which the index would have been used. */
  #exactOnly: { reason: string; collection: string; from: number } | undefined
  /** Records stored since the count was last read: an upper bound, since forgets are not subtracted. */
  #estimate = 0

  /** Passes warnings to `handler`, or to `warnOncePerProcess` when it is left out. */
  constructor(handler: MemoryWarningHandler | undefined) {
    this.#handler = handler ?? warnOncePerProcess
  }

  /** Records that vector search in `collection` stays exact from `from` records on, and why. */
  exactOnly(reason: string, collection: string, from: number): void {
    this.#exactOnly = { reason, collection, from }
  }

  /**
   * Adds `stored` records to the estimate; when it reaches the threshold, reads the real count
   * (once per crossing, not per write) and warns if the collection has really grown that far.
   */
  async grew(stored: number, count: () => Promise<number>): Promise<void> {
    const exact = this.#exactOnly
    if (exact === undefined) return
    this.#estimate += stored
    if (this.#estimate < exact.from) return
    this.#estimate = await count()
    if (this.#estimate < exact.from) return
    this.#exactOnly = undefined
    this.warn(
      'hnsw-unavailable',
      `Vector search in the "${exact.collection}" collection is an exact scan of ${this.#estimate} records and stays exact as it grows, because ${exact.reason}. Results are the same, but each recall costs more with every record.`,
    )
  }

  /** Passes a warning to the handler, unless this memory already gave one of its kind. */
  warn(kind: MemoryWarningKind, message: string): void {
    if (this.#given.has(kind)) return
    this.#given.add(kind)
    try {
      this.#handler({ kind, message })
    } catch {
      // The write or recall the warning rode on has already happened; failing it now would make
      // a committed write look lost (and be retried).
    }
  }
}
