import {
  type AnnHit,
  type AnnIndexFactory,
  type AnnIndexOptions,
  bytesToVector,
  type CheckpointedAnnIndex,
  HNSW_DEFAULTS,
  type HnswSettings,
  integerOption,
  Mutex,
  type StorageAdapter,
  StorageError,
} from '@engram/core'
import { type CollectionRow, collectionTables, REGISTRY } from './collection-tables.js'
import { indexFileName } from './index-file-name.js'

/** Settings for the ANN tier: one HNSW index per collection, in files beside the database. */
export interface SqliteVectorAnnConfig extends HnswSettings {
  /**
   * The database file the adapter has open; each collection's index is `<path>.<collection>.hnsw`
   * (plus `.json` for its checkpoint), so two databases in one folder never share an index. When
   * that name would be too long for the file system, a hash of both names shortens it.
   * `':memory:'` keeps indexes in memory, as does an adapter whose persistence is `'memory'`.
   */
  path: string
  /** Changes applied to an index that trigger writing it to disk; `close()` always does. Default is `10_000`. */
  persistEvery?: number
  /** Opens an index. Default is `createHnswIndex` from `@engram/hnsw-sidecar`. */
  createIndex?: AnnIndexFactory
  /** Deletes an index's files. Default is `removeHnswIndex` from `@engram/hnsw-sidecar`. */
  removeIndex?: (path: string) => Promise<void>
}

/** The ANN tier's settings, defaults filled in. */
export interface AnnTierConfig extends Required<HnswSettings> {
  /** The database file the index files are named after, or `undefined` for in-memory indexes. */
  databasePath: string | undefined
  /** Opens an index. */
  createIndex: AnnIndexFactory
  /** Deletes an index file and its checkpoint. */
  removeIndex: (path: string) => Promise<void>
  /** Changes applied since the last checkpoint that trigger a new one. */
  persistEvery: number
}

/** The settings `checkAnnConfig` returns: the index functions stay open until the sidecar is loaded. */
export type CheckedAnnConfig = Omit<AnnTierConfig, 'createIndex' | 'removeIndex'> &
  Partial<Pick<AnnTierConfig, 'createIndex' | 'removeIndex'>>

/** Where a collection's ANN index stands, from `SqliteVectorStore.annStatus`. */
export interface AnnStatus {
  /** Whether this store has the collection's index open. */
  open: boolean
  /** How it was opened: loaded from its file and caught up, or rebuilt from the database. */
  source?: 'file' | 'rebuilt'
  /** Live vectors in the index. */
  size: number
  /** The database change sequence the index has applied. */
  appliedSequence: number
  /** The database's current change sequence for the collection. */
  sequence: number
  /** The index file, when it has one. */
  path?: string
}

interface OpenIndex {
  index: CheckpointedAnnIndex
  uid: string
  applied: number
  pending: number
  source: 'file' | 'rebuilt'
  path: string | undefined
}

const PAGE = 1000

/**
 * Keeps one ANN index per collection consistent with the SQLite database. The database is
 * the source of truth: every write batch bumps the collection's sequence and stamps the rows
 * (and tombstones for deletes) with it, and before each search the index applies whatever
 * changed since the sequence it holds. The index file records that sequence in its
 * checkpoint, so after a crash it catches up instead of being rebuilt or trusted stale.
 */
export class AnnTier {
  readonly #db: StorageAdapter
  readonly #config: AnnTierConfig
  readonly #open = new Map<string, OpenIndex>()
  readonly #mutex = new Mutex()

  /** Builds the tier on `db`; indexes open lazily on first search. */
  constructor(db: StorageAdapter, config: AnnTierConfig) {
    this.#db = db
    this.#config = config
  }

  /** Catches the collection's index up with the database and searches it. */
  async search(
    collection: CollectionRow,
    vector: Float32Array,
    k: number,
    accept?: (label: number) => boolean,
  ): Promise<AnnHit[]> {
    return this.#locked(async () => {
      const open = await this.#ready(collection)
      return open.index.search(vector, k, accept)
    })
  }

  /** Reports the collection's index state without opening it. */
  async status(collection: CollectionRow): Promise<AnnStatus> {
    return this.#locked(async () => {
      const open = this.#open.get(collection.name)
      const status: AnnStatus = {
        open: open !== undefined && open.uid === collection.uid,
        size: 0,
        appliedSequence: 0,
        sequence: collection.seq,
      }
      const path = this.#path(collection.name)
      if (path !== undefined) status.path = path
      if (open && status.open) {
        status.source = open.source
        status.size = open.index.size()
        status.appliedSequence = open.applied
      }
      return status
    })
  }

  /** Closes and deletes a dropped collection's index. */
  async drop(name: string): Promise<void> {
    await this.#locked(async () => {
      const open = this.#open.get(name)
      this.#open.delete(name)
      await open?.index.close()
      const path = this.#path(name)
      if (path !== undefined) await this.#config.removeIndex(path)
    })
  }

  /** Checkpoints every index with unsaved changes and closes them all. */
  async close(): Promise<void> {
    await this.#locked(async () => {
      for (const [name, open] of this.#open) {
        this.#open.delete(name)
        try {
          if (open.pending > 0) await this.#checkpoint(name, open)
        } finally {
          await open.index.close()
        }
      }
    })
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.#mutex.acquire()
    try {
      return await fn()
    } finally {
      this.#mutex.release()
    }
  }

  #path(name: string): string | undefined {
    const base = this.#config.databasePath
    return base === undefined ? undefined : indexFileName(base, name)
  }

  /** Returns the collection's index, opened or rebuilt if needed and caught up with the database. */
  async #ready(collection: CollectionRow): Promise<OpenIndex> {
    let open = this.#open.get(collection.name)
    // Another store on this database pruned tombstones this index still needs (or deleted
    // without any): reopen from the file, which is then rebuilt unless it is recent enough.
    if (open && (open.uid !== collection.uid || open.applied < collection.floor)) {
      this.#open.delete(collection.name)
      await open.index.close()
      open = undefined
    }
    if (!open) {
      open = await this.#openIndex(collection)
      this.#open.set(collection.name, open)
    }
    if (collection.seq > open.applied) await this.#catchUp(collection, open)
    return open
  }

  async #openIndex(collection: CollectionRow): Promise<OpenIndex> {
    const path = this.#path(collection.name)
    const { m, efConstruction, efSearch } = this.#config
    const options: AnnIndexOptions = {
      dimension: collection.dimension,
      metric: collection.metric,
      m,
      efConstruction,
      efSearch,
    }
    if (path !== undefined) options.path = path
    let index = await this.#config.createIndex(options)
    const applied = parseCheckpoint(index.checkpoint, collection)
    if (applied !== undefined) {
      return { index, uid: collection.uid, applied, pending: 0, source: 'file', path }
    }
    // No usable checkpoint: another collection's file, one older than the pruned tombstones,
    // or one ahead of the database (restored from an older copy). Start empty and rebuild.
    if (index.size() > 0 || index.checkpoint !== undefined) {
      await index.close()
      if (path !== undefined) await this.#config.removeIndex(path)
      index = await this.#config.createIndex(options)
    }
    const open: OpenIndex = { index, uid: collection.uid, applied: 0, pending: 0, source: 'rebuilt', path }
    await this.#rebuild(collection, open)
    return open
  }

  async #rebuild(collection: CollectionRow, open: OpenIndex): Promise<void> {
    const sequence = await this.#sequence(collection)
    const t = collectionTables(collection.cid)
    // Rows read after the sequence may be newer; applying them early is harmless, they replay later.
    await this.#addPages(
      `SELECT label, vector FROM ${t.vectors} WHERE label > ? ORDER BY label LIMIT ${PAGE}`,
      [],
      open,
    )
    open.applied = sequence
    await this.#checkpoint(collection.name, open)
  }

  async #catchUp(collection: CollectionRow, open: OpenIndex): Promise<void> {
    const sequence = await this.#sequence(collection)
    const t = collectionTables(collection.cid)
    const from = open.applied
    const added = await this.#addPages(
      `SELECT label, vector FROM ${t.vectors} WHERE seq > ? AND label > ? ORDER BY label LIMIT ${PAGE}`,
      [from],
      open,
    )
    const gone = await this.#db.all<{ label: number }>(`SELECT label FROM ${t.gone} WHERE seq > ?`, [from])
    await open.index.remove(gone.map((row) => row.label))
    open.applied = sequence
    open.pending += added + gone.length
    if (open.pending >= this.#config.persistEvery) await this.#checkpoint(collection.name, open)
  }

  /** Streams rows in label order a page at a time into the index; returns how many were added. */
  async #addPages(sql: string, params: number[], open: OpenIndex): Promise<number> {
    let after = 0
    let total = 0
    while (true) {
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(sql, [...params, after])
      if (rows.length === 0) return total
      await open.index.add(rows.map((row) => ({ label: row.label, vector: bytesToVector(row.vector) })))
      total += rows.length
      if (rows.length < PAGE) return total
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  async #sequence(collection: CollectionRow): Promise<number> {
    const row = await this.#db.get<{ seq: number }>(`SELECT seq FROM ${REGISTRY} WHERE cid = ?`, [
      collection.cid,
    ])
    if (!row)
      throw new StorageError(
        'NOT_FOUND',
        `Collection "${collection.name}" was dropped while it was being searched`,
      )
    return row.seq
  }

  /** Persists the index with its sequence, then prunes the tombstones it no longer needs. */
  async #checkpoint(name: string, open: OpenIndex): Promise<void> {
    await open.index.persist(`${open.uid}@${open.applied}`)
    open.pending = 0
    const row = await this.#db.get<{ cid: number; uid: string }>(
      `SELECT cid, uid FROM ${REGISTRY} WHERE name = ?`,
      [name],
    )
    if (!row || row.uid !== open.uid) return
    const t = collectionTables(row.cid)
    await this.#db.transaction(async (tx) => {
      await tx.run(`DELETE FROM ${t.gone} WHERE seq <= ?`, [open.applied])
      await tx.run(`UPDATE ${REGISTRY} SET floor = MAX(floor, ?) WHERE cid = ?`, [open.applied, row.cid])
    })
  }
}

/** The sequence a checkpoint holds, when it belongs to this collection and can be caught up from. */
function parseCheckpoint(checkpoint: string | undefined, collection: CollectionRow): number | undefined {
  if (checkpoint === undefined) return undefined
  const at = checkpoint.lastIndexOf('@')
  if (at < 0 || checkpoint.slice(0, at) !== collection.uid) return undefined
  const sequence = Number(checkpoint.slice(at + 1))
  if (!Number.isInteger(sequence) || sequence < collection.floor || sequence > collection.seq)
    return undefined
  return sequence
}

/**
 * Checks the `ann` option when the store is created, so a mistake fails at once rather than on
 * the first search past `exactBelow`. Returns the settings with every default but the index
 * functions filled in (those come from the sidecar, which is only loaded when it is needed).
 */
export function checkAnnConfig(ann: SqliteVectorAnnConfig, db: StorageAdapter): CheckedAnnConfig {
  if (typeof ann !== 'object' || ann === null || typeof ann.path !== 'string' || ann.path === '') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      "ann.path must be the database file the adapter opened, or ':memory:'",
    )
  }
  for (const name of ['createIndex', 'removeIndex'] as const) {
    if (ann[name] !== undefined && typeof ann[name] !== 'function') {
      throw new StorageError('INVALID_ARGUMENT', `ann.${name} must be a function`)
    }
  }
  const inMemory = ann.path === ':memory:' || db.capabilities.persistence === 'memory'
  const config: CheckedAnnConfig = {
    databasePath: inMemory ? undefined : ann.path,
    persistEvery: integerOption(ann.persistEvery, 10_000, 'ann.persistEvery'),
    m: integerOption(ann.m, HNSW_DEFAULTS.m, 'ann.m', 2),
    efConstruction: integerOption(ann.efConstruction, HNSW_DEFAULTS.efConstruction, 'ann.efConstruction'),
    efSearch: integerOption(ann.efSearch, HNSW_DEFAULTS.efSearch, 'ann.efSearch'),
  }
  if (ann.createIndex) config.createIndex = ann.createIndex
  if (ann.removeIndex) config.removeIndex = ann.removeIndex
  return config
}

/** Builds the tier, loading `@engram/hnsw-sidecar` for whichever index function was not given. */
export async function openAnnTier(db: StorageAdapter, config: CheckedAnnConfig): Promise<AnnTier> {
  let { createIndex, removeIndex } = config
  if (!createIndex || !removeIndex) {
    const sidecar = await loadSidecar()
    createIndex ??= sidecar.createHnswIndex
    removeIndex ??= sidecar.removeHnswIndex
  }
  return new AnnTier(db, { ...config, createIndex, removeIndex })
}

interface SidecarModule {
  createHnswIndex: AnnIndexFactory
  removeHnswIndex: (path: string) => Promise<void>
}

async function loadSidecar(): Promise<SidecarModule> {
  try {
    return (await import(/* @vite-ignore */ '@engram/hnsw-sidecar')) as SidecarModule
  } catch (error) {
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      'The ANN tier needs @engram/hnsw-sidecar: run `pnpm add @engram/hnsw-sidecar`, or leave out the ann option',
      { cause: error },
    )
  }
}
