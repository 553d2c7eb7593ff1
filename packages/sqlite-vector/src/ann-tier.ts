import {
  type AnnHit,
  type AnnIndexOptions,
  bytesToVector,
  type CheckpointedAnnIndex,
  Mutex,
  type StorageAdapter,
  StorageError,
} from '@engram/core'
import type { AnnBuildPlan, AnnTierConfig, CheckedAnnConfig } from './ann-config.js'
import { resolveAnnConfig } from './ann-config.js'
import { changedRows, countChanged, goneSince } from './changed-rows.js'
import { type CollectionRow, collectionTables, currentRow, REGISTRY } from './collection-tables.js'
import { indexFileName } from './index-file-name.js'

/** Where a collection's ANN index stands, from `SqliteVectorStore.annStatus`. */
export interface AnnStatus {
  /** Whether this store has the collection's index open. */
  open: boolean
  /** How it was opened: loaded from its file and caught up, or rebuilt from the database. */
  source?: 'file' | 'rebuilt'
  /** Live vectors in the index. */
  size: number
  /** Slots the index has reserved, when the index reports them (the HNSW sidecar does). */
  capacity?: number
  /** The database change sequence the index has applied. */
  appliedSequence: number
  /** The database's current change sequence for the collection. */
  sequence: number
  /** The index file, when it has one. */
  path?: string
  /** Whether the index is being built (or caught up) in the background; exact search answers meanwhile. */
  building: boolean
  /** Why the last background build failed; exact search answers until `buildIndex()` succeeds. */
  error?: string
}

interface OpenIndex {
  index: CheckpointedAnnIndex & { capacity?: () => number }
  uid: string
  applied: number
  pending: number
  source: 'file' | 'rebuilt'
  path: string | undefined
}

/** A build running in the background for one collection. */
interface Job {
  uid: string
  controller: AbortController
  done: Promise<void>
}

/** What a finished background build hands over. */
interface Built {
  index: CheckpointedAnnIndex
  applied: number
  source: 'file' | 'rebuilt'
}

/** Why `#ready` is asked: a query (may apply small changes itself), a write (only starts background work), or `buildIndex`. */
type Need = 'query' | 'write' | 'build'

const PAGE = 1000

/**
 * Keeps one ANN index per collection consistent with the SQLite database. The database is
 * the source of truth: every write batch bumps the collection's sequence and stamps the rows
 * (and tombstones for deletes) with it, and before each search the index applies whatever
 * changed since the sequence it holds. The index file records that sequence in its
 * checkpoint, so after a crash it catches up instead of being rebuilt or trusted stale. A
 * build or catch-up of more than `backgroundAbove` records runs in the background (in a worker
 * thread with the HNSW sidecar) while queries are answered by exact search.
 */
export class AnnTier {
  readonly #db: StorageAdapter
  readonly #config: AnnTierConfig
  readonly #open = new Map<string, OpenIndex>()
  readonly #jobs = new Map<string, Job>()
  readonly #failures = new Map<string, { uid: string; error: unknown }>()
  readonly #mutex = new Mutex()
  #closed = false

  /** Builds the tier on `db`; indexes open lazily on first search. */
  constructor(db: StorageAdapter, config: AnnTierConfig) {
    this.#db = db
    this.#config = config
  }

  /**
   * Catches the collection's index up with the database and searches it; `undefined` while it
   * is being built in the background, when the caller searches exactly instead.
   */
  async search(
    collection: CollectionRow,
    vector: Float32Array,
    k: number,
    accept?: (label: number) => boolean,
  ): Promise<AnnHit[] | undefined> {
    return this.#locked(async () => {
      const open = await this.#ready(collection, 'query')
      return open?.index.search(vector, k, accept)
    })
  }

  /**
   * After a write: starts the background build or catch-up the collection now needs, if any.
   * With `applyUpTo`, an open index that is at most that many written records behind is caught
   * up here instead, so the next query does not pay for it; otherwise nothing is applied here.
   */
  async prepare(collection: CollectionRow, applyUpTo = 0): Promise<void> {
    await this.#locked(() => this.#ready(collection, 'write', applyUpTo))
  }

  /**
   * Brings the index up to date now, building it if needed (a failed background build is tried
   * again). Returns `true` when it is ready; `false` after waiting for a background build, when
   * the caller calls again with the collection's current row.
   */
  async build(collection: CollectionRow): Promise<boolean> {
    const job = await this.#locked(async () => {
      this.#failures.delete(collection.name)
      const open = await this.#ready(collection, 'build')
      return open === undefined ? this.#jobs.get(collection.name) : undefined
    })
    if (job === undefined) return true
    await job.done
    const failure = this.#failures.get(collection.name)
    if (failure !== undefined) throw failure.error
    return false
  }

  /** Reports the collection's index state without opening it. */
  async status(collection: CollectionRow): Promise<AnnStatus> {
    return this.#locked(async () => {
      const open = this.#open.get(collection.name)
      const job = this.#jobs.get(collection.name)
      const failure = this.#failures.get(collection.name)
      const status: AnnStatus = {
        open: open !== undefined && open.uid === collection.uid,
        size: 0,
        appliedSequence: 0,
        sequence: collection.seq,
        building: job !== undefined && job.uid === collection.uid,
      }
      const path = this.#path(collection.name)
      if (path !== undefined) status.path = path
      if (failure !== undefined && failure.uid === collection.uid) status.error = describe(failure.error)
      if (open && status.open) {
        status.source = open.source
        status.size = open.index.size()
        if (open.index.capacity) status.capacity = open.index.capacity()
        status.appliedSequence = open.applied
      }
      return status
    })
  }

  /** Stops any build, then closes and deletes a dropped collection's index. */
  async drop(name: string): Promise<void> {
    await this.#stop(name)
    await this.#locked(async () => {
      const open = this.#open.get(name)
      this.#open.delete(name)
      this.#failures.delete(name)
      await open?.index.close()
      const path = this.#path(name)
      if (path !== undefined) await this.#config.removeIndex(path)
    })
  }

  /** Stops background builds, checkpoints every index with unsaved changes and closes them all. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#jobs.keys()].map((name) => this.#stop(name)))
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

  async #stop(name: string): Promise<void> {
    const job = this.#jobs.get(name)
    if (job === undefined) return
    job.controller.abort()
    await job.done
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

  #options(collection: CollectionRow): AnnIndexOptions {
    const { m, efConstruction, efSearch } = this.#config
    const options: AnnIndexOptions = {
      dimension: collection.dimension,
      metric: collection.metric,
      m,
      efConstruction,
      efSearch,
    }
    const path = this.#path(collection.name)
    if (path !== undefined) options.path = path
    return options
  }

  /**
   * The collection's index, opened or built if needed and caught up with the database; or
   * `undefined` when that takes a background build (started here), one is already running, or
   * the last one failed. A write catches an open index up only when at most `applyUpTo` written
   * records are pending.
   */
  async #ready(collection: CollectionRow, need: Need, applyUpTo = 0): Promise<OpenIndex | undefined> {
    if (this.#closed) throw new StorageError('CLOSED', 'The vector store is closed; open a new one')
    const name = collection.name
    let open = this.#open.get(name)
    // Another store on this database pruned tombstones this index still needs (or deleted
    // without any), or the collection was dropped and created again: start over from the file.
    if (open && (open.uid !== collection.uid || open.applied < collection.floor)) {
      this.#open.delete(name)
      await open.index.close()
      open = undefined
    }
    const job = this.#jobs.get(name)
    if (job !== undefined) {
      if (job.uid === collection.uid) return undefined
      job.controller.abort()
    }
    const failure = this.#failures.get(name)
    if (failure !== undefined && failure.uid !== collection.uid) this.#failures.delete(name)
    else if (failure !== undefined && need !== 'build') return undefined
    const background = this.#config.backgroundAbove
    if (!open) {
      // A write never builds an index on the main thread. One asked to apply what it wrote
      // (`applyUpTo`) opens a usable index file as a query would, so the queries after it do not
      // search exactly while a worker loads that same file.
      if (need === 'write' && applyUpTo === 0) {
        if (collection.count > background) this.#start(collection)
        return undefined
      }
      const index = await this.#config.createIndex(this.#options(collection))
      const applied = parseCheckpoint(index.checkpoint, collection)
      if (applied !== undefined) {
        open = { index, uid: collection.uid, applied, pending: 0, source: 'file', path: this.#path(name) }
      } else if (collection.count > background || need === 'write') {
        await index.close()
        if (collection.count > background) this.#start(collection)
        return undefined
      } else {
        open = await this.#buildHere(collection, index)
      }
      this.#open.set(name, open)
    }
    if (collection.seq > open.applied) {
      const pending = await this.#pending(collection, open)
      if (pending > background) {
        // Replaced by an index built from its file and these changes; exact search answers meanwhile.
        this.#open.delete(name)
        await open.index.close()
        this.#start(collection)
        return undefined
      }
      if (need === 'write' && pending > applyUpTo) return open
      if (!(await this.#catchUp(collection, open))) {
        // Another store pruned tombstones this index needed while it caught up: start over from the file.
        this.#open.delete(name)
        await open.index.close()
        return this.#ready(await this.#current(collection), need, applyUpTo)
      }
    }
    return open
  }

  /** Builds a small index within the call into `index`, or into a new one if `index` holds anything. */
  async #buildHere(collection: CollectionRow, opened: CheckpointedAnnIndex): Promise<OpenIndex> {
    const options = this.#options(collection)
    let index = opened
    // Another collection's file, one older than the pruned tombstones, or one ahead of the
    // database (restored from an older copy): not trusted, so start empty.
    if (index.size() > 0 || index.checkpoint !== undefined) {
      await index.close()
      if (options.path !== undefined) await this.#config.removeIndex(options.path)
      index = await this.#config.createIndex(options)
    }
    const open: OpenIndex = {
      index,
      uid: collection.uid,
      applied: 0,
      pending: 0,
      source: 'rebuilt',
      path: options.path,
    }
    const sequence = await this.#sequence(collection)
    // Rows read after the sequence may be newer; applying them early is harmless, they replay later.
    for await (const batch of this.#rows(collection, -1)) await index.add(batch)
    open.applied = sequence
    await this.#checkpoint(collection.name, open)
    return open
  }

  /** Starts a background build: from the index file and the changes since its checkpoint, or from every row. */
  #start(collection: CollectionRow): void {
    const controller = new AbortController()
    const job: Job = { uid: collection.uid, controller, done: Promise.resolve() }
    this.#jobs.set(collection.name, job)
    job.done = this.#runJob(collection, controller.signal)
      .then((built) => this.#locked(() => this.#install(collection, job, built)))
      .catch((error: unknown) => {
        if (!controller.signal.aborted) this.#failures.set(collection.name, { uid: collection.uid, error })
      })
      .finally(() => {
        if (this.#jobs.get(collection.name) === job) this.#jobs.delete(collection.name)
      })
  }

  async #runJob(collection: CollectionRow, signal: AbortSignal): Promise<Built> {
    let applied = 0
    let source: Built['source'] = 'rebuilt'
    const plan = async (checkpoint: string | undefined): Promise<AnnBuildPlan> => {
      const row = await this.#current(collection)
      applied = row.seq
      const from = this.#path(collection.name) === undefined ? undefined : parseCheckpoint(checkpoint, row)
      const t = collectionTables(collection.cid)
      const out: AnnBuildPlan = { extend: from !== undefined, items: this.#rows(collection, from ?? -1) }
      if (from !== undefined) {
        source = 'file'
        out.removed = () => goneSince(this.#db, t.gone, from)
      }
      if (this.#path(collection.name) !== undefined) out.checkpoint = `${row.uid}@${row.seq}`
      return out
    }
    const index = await this.#config.buildIndex(this.#options(collection), plan, { signal })
    return { index, applied, source }
  }

  /** Puts a finished build in place, unless it was stopped meanwhile; it was persisted with its checkpoint. */
  async #install(collection: CollectionRow, job: Job, built: Built): Promise<void> {
    const name = collection.name
    if (job.controller.signal.aborted || this.#closed || this.#jobs.get(name) !== job) {
      await built.index.close()
      return
    }
    const old = this.#open.get(name)
    if (old) await old.index.close()
    const open: OpenIndex = {
      index: built.index,
      uid: collection.uid,
      applied: built.applied,
      pending: 0,
      source: built.source,
      path: this.#path(name),
    }
    this.#open.set(name, open)
    await this.#prune(name, open)
  }

  /**
   * Rows with `seq` above `from`, a page at a time: all rows for -1, in label order; else the
   * changed rows, found through the `seq` index (see `changedRows`).
   */
  async *#rows(
    collection: CollectionRow,
    from: number,
  ): AsyncIterable<Array<{ label: number; vector: Float32Array }>> {
    const t = collectionTables(collection.cid)
    const decode = (rows: Array<{ label: number; vector: Uint8Array }>) =>
      rows.map((row) => ({ label: row.label, vector: bytesToVector(row.vector) }))
    if (from >= 0) {
      for await (const rows of changedRows<{ label: number; seq: number; vector: Uint8Array }>(
        this.#db,
        t.vectors,
        'label, vector',
        from,
        PAGE,
      )) {
        yield decode(rows)
      }
      return
    }
    const sql = `SELECT label, vector FROM ${t.vectors} WHERE label > ? ORDER BY label LIMIT ${PAGE}`
    let after = 0
    while (true) {
      const rows = await this.#db.all<{ label: number; vector: Uint8Array }>(sql, [after])
      if (rows.length === 0) return
      yield decode(rows)
      if (rows.length < PAGE) return
      after = (rows[rows.length - 1] as { label: number }).label
    }
  }

  /** Rows changed since the index's sequence, counted up to one past the background threshold. */
  async #pending(collection: CollectionRow, open: OpenIndex): Promise<number> {
    const t = collectionTables(collection.cid)
    return countChanged(this.#db, t.vectors, open.applied, this.#config.backgroundAbove)
  }

  /** Applies the changes since the index's sequence; `false` if tombstones it needed were pruned meanwhile. */
  async #catchUp(collection: CollectionRow, open: OpenIndex): Promise<boolean> {
    const sequence = await this.#sequence(collection)
    const t = collectionTables(collection.cid)
    const from = open.applied
    let added = 0
    for await (const batch of this.#rows(collection, from)) {
      await open.index.add(batch)
      added += batch.length
    }
    const gone = await goneSince(this.#db, t.gone, from)
    if ((await this.#current(collection)).floor > from) return false
    await open.index.remove(gone)
    open.applied = sequence
    open.pending += added + gone.length
    if (open.pending >= this.#config.persistEvery) await this.#checkpoint(collection.name, open)
    return true
  }

  async #sequence(collection: CollectionRow): Promise<number> {
    return (await this.#current(collection)).seq
  }

  /** The collection's registry row now; `NOT_FOUND` if it was dropped (or dropped and created again). */
  async #current(collection: CollectionRow): Promise<CollectionRow> {
    const row = await currentRow(this.#db, collection)
    if (!row)
      throw new StorageError(
        'NOT_FOUND',
        `Collection "${collection.name}" was dropped while its index was being built or searched`,
      )
    return row
  }

  /** Persists the index with its sequence, then prunes the tombstones it no longer needs. */
  async #checkpoint(name: string, open: OpenIndex): Promise<void> {
    await open.index.persist(`${open.uid}@${open.applied}`)
    open.pending = 0
    await this.#prune(name, open)
  }

  /** Drops tombstones up to the index's persisted sequence and raises the floor to it. */
  async #prune(name: string, open: OpenIndex): Promise<void> {
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Builds the tier, loading `@engram/hnsw-sidecar` for whichever index function was not given. */
export async function openAnnTier(db: StorageAdapter, config: CheckedAnnConfig): Promise<AnnTier> {
  return new AnnTier(db, await resolveAnnConfig(config))
}
