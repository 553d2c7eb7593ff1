import type { StorageAdapter } from '@engram/core'
import { changedRows, countChanged, goneSince } from './changed-rows.js'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import { rowsByLabel } from './record-rows.js'

/** The fields of a record a match carries besides its score, as the vector table stores them. */
export interface RecordFields {
  /** The caller's id. */
  id: string
  /** Metadata as JSON text. */
  metadata: string | null
  /** The record's text. */
  text: string | null
}

/** A kept record and its estimated cost. */
interface Kept extends RecordFields {
  bytes: number
}

/** One collection's kept records, valid for its state at `seq` and every later one the catch-ups applied. */
interface Entry {
  uid: string
  seq: number
  /** Least recently used first. */
  rows: Map<number, Kept>
}

/** Changed labels read per page by a catch-up. */
const PAGE = 1000
/** Bytes a kept record costs beyond its strings: the object, the map slot and the string headers. */
const OVERHEAD = 96

/**
 * What a query's matches carry besides scores (id, metadata as JSON text, text), kept in memory
 * for the records queries returned, within `budget` bytes for all collections together (least
 * recently used go first). A query reads from the database only the winners it does not hold.
 * Before each use the cache compares its sequence with the registry row the query read, and
 * forgets every record written or deleted since, by any store or process, through the `seq` index.
 */
export class RecordCache {
  readonly #db: StorageAdapter
  readonly #budget: number
  /** Least recently used first. */
  readonly #entries = new Map<number, Entry>()
  #bytes = 0

  constructor(db: StorageAdapter, budget: number) {
    this.#db = db
    this.#budget = budget
  }

  /** Bytes the kept records are estimated to cost (strings at two bytes a character, plus a fixed part each). */
  get bytes(): number {
    return this.#bytes
  }

  /** How many records it keeps, over all collections. */
  get size(): number {
    let n = 0
    for (const entry of this.#entries.values()) n += entry.rows.size
    return n
  }

  /** Forgets a collection (it was dropped). */
  drop(cid: number): void {
    const entry = this.#entries.get(cid)
    if (entry === undefined) return
    for (const kept of entry.rows.values()) this.#bytes -= kept.bytes
    this.#entries.delete(cid)
  }

  /**
   * The fields of the records with these labels, by label, as of `c` or later: kept ones from
   * memory, the others read from the database (and kept). Records deleted since are left out.
   */
  async fields(c: CollectionRow, labels: readonly number[]): Promise<Map<number, RecordFields>> {
    const entry = await this.#current(c)
    const seq = entry.seq
    const found = new Map<number, RecordFields>()
    const missing: number[] = []
    for (const label of labels) {
      const kept = entry.rows.get(label)
      if (kept === undefined) {
        missing.push(label)
      } else {
        entry.rows.delete(label)
        entry.rows.set(label, kept)
        found.set(label, kept)
      }
    }
    if (missing.length === 0) return found
    const rows = await rowsByLabel<RecordFields & { label: number }>(
      this.#db,
      c,
      'label, id, metadata, text',
      missing,
    )
    // A catch-up that ran meanwhile may have passed over a change these rows predate: keep none.
    const keep = this.#entries.get(c.cid) === entry && entry.seq === seq
    for (const row of rows) {
      const fields = { id: row.id, metadata: row.metadata, text: row.text }
      found.set(row.label, fields)
      if (keep) this.#keep(entry, row.label, fields)
    }
    if (keep) this.#evict()
    return found
  }

  /** The collection's entry, caught up with `c`, moved to the most recently used end. */
  async #current(c: CollectionRow): Promise<Entry> {
    let entry = this.#entries.get(c.cid)
    if (entry !== undefined && entry.uid !== c.uid) {
      this.drop(c.cid)
      entry = undefined
    }
    if (entry === undefined) {
      entry = { uid: c.uid, seq: c.seq, rows: new Map() }
    } else if (entry.seq < c.seq) {
      await this.#catchUp(entry, c)
    }
    this.#entries.delete(c.cid)
    this.#entries.set(c.cid, entry)
    return entry
  }

  /**
   * Forgets the records written or deleted after `entry.seq`: all of them when more changed than
   * it holds, or when deletes since may have left no tombstones (the floor passed `entry.seq`).
   * A deleted record's label is never used again, and every search has applied the delete before
   * it answers, so a tombstone pruned after the floor was read only leaves that record's fields in
   * memory until they are evicted; they are never returned.
   */
  async #catchUp(entry: Entry, c: CollectionRow): Promise<void> {
    const from = entry.seq
    const changed: number[] = []
    let all = c.floor > from
    if (entry.rows.size > 0 && !all) {
      const t = collectionTables(c.cid)
      all = (await countChanged(this.#db, t.vectors, from, entry.rows.size)) > entry.rows.size
      if (!all) {
        for await (const page of changedRows<{ label: number; seq: number }>(
          this.#db,
          t.vectors,
          'label',
          from,
          PAGE,
        )) {
          for (const row of page) changed.push(row.label)
        }
        changed.push(...(await goneSince(this.#db, t.gone, from)))
      }
    }
    // Forgetting more than a concurrent catch-up did is always safe, so this applies regardless.
    if (all) {
      for (const kept of entry.rows.values()) this.#bytes -= kept.bytes
      entry.rows.clear()
    }
    for (const label of changed) this.#forget(entry, label)
    // The reads saw at least the state at `c.seq`; an entry already ahead of it stays ahead.
    entry.seq = Math.max(entry.seq, c.seq)
  }

  #keep(entry: Entry, label: number, fields: RecordFields): void {
    const bytes =
      OVERHEAD + 2 * (fields.id.length + (fields.metadata?.length ?? 0) + (fields.text?.length ?? 0))
    if (bytes > this.#budget) return
    this.#forget(entry, label)
    entry.rows.set(label, { ...fields, bytes })
    this.#bytes += bytes
  }

  #forget(entry: Entry, label: number): void {
    const kept = entry.rows.get(label)
    if (kept === undefined) return
    this.#bytes -= kept.bytes
    entry.rows.delete(label)
  }

  /** Drops the least recently used records, oldest collection first, until the budget holds. */
  #evict(): void {
    for (const [cid, entry] of this.#entries) {
      for (const [label, kept] of entry.rows) {
        if (this.#bytes <= this.#budget) return
        this.#bytes -= kept.bytes
        entry.rows.delete(label)
      }
      if (this.#bytes <= this.#budget) return
      this.#entries.delete(cid)
    }
  }
}
