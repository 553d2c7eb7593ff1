import type { StorageAdapter, ValidRecord } from '@engram/core'

/**
 * How `Memory` writes a trace's vector together with its row. Both calls run inside the trace
 * rows' transaction; `settle` runs after it commits. A store in the same database writes the
 * vectors in that transaction (`SameDatabaseVectors`); a store elsewhere gets them from an
 * outbox written in that transaction (`VectorOutbox`), so a crash between the two heals.
 */
export interface VectorWrites {
  /** Writes (or records) the vectors of traces inserted in `tx`. */
  upsert(tx: StorageAdapter, records: readonly ValidRecord[]): Promise<void>
  /** Removes (or records the removal of) the vectors of traces deleted in `tx`. */
  delete(tx: StorageAdapter, ids: readonly string[]): Promise<void>
  /** After the commit: makes the vector store match what was committed. */
  settle(): Promise<void>
  /** Releases what the writer holds (never the stores it was given). */
  close(): Promise<void>
}
