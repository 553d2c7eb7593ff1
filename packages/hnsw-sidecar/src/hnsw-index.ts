import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  type AnnHit,
  type AnnIndexOptions,
  type CheckpointedAnnIndex,
  HNSW_DEFAULTS,
  Mutex,
  StorageError,
  type VectorMetric,
} from '@engram/core'
import hnsw from 'hnswlib-node'

const { HierarchicalNSW } = hnsw
type Native = InstanceType<typeof HierarchicalNSW>

/**
 * Options for `createHnswIndex`: core's `AnnIndexOptions` (the index file, kept with its
 * checkpoint in `<path>.json`; omit it or pass `':memory:'` to keep the index in memory) plus
 * the capacity of a new index.
 */
export interface HnswIndexConfig extends AnnIndexOptions {
  /** Capacity reserved when a new index is created; it grows by itself. Default is `1024`. */
  initialCapacity?: number
}

/** An index on hnswlib-node: core's `CheckpointedAnnIndex`, whose `persist` writes the index and then its checkpoint, each replaced atomically. */
export type HnswIndex = CheckpointedAnnIndex

/** What `<path>.json` records beside the index file. */
interface Sidecar {
  version: 1
  checkpoint?: string
  dimension: number
  metric: VectorMetric
  /** The index file's size when it was written, so a mismatched pair is never trusted. */
  bytes: number
  /** Labels marked deleted; hnswlib keeps them in the file but cannot list them. */
  deleted: number[]
}

const SPACE: Record<VectorMetric, 'cosine' | 'ip' | 'l2'> = { cosine: 'cosine', dot: 'ip', euclidean: 'l2' }

/**
 * Opens the index at `path`, or creates an empty one when the file is missing. A file whose
 * checkpoint is missing, unreadable or written for another dimension or metric is ignored
 * (the index starts empty with no checkpoint), so the caller rebuilds instead of trusting it.
 *
 * @example
 * const index = await createHnswIndex({ path: 'app.db.docs.hnsw', dimension: 384, metric: 'cosine' })
 */
export async function createHnswIndex(config: HnswIndexConfig): Promise<HnswIndex> {
  const dimension = config.dimension
  if (!Number.isInteger(dimension) || dimension < 1) {
    throw new StorageError('INVALID_ARGUMENT', `dimension must be a positive integer, got ${dimension}`)
  }
  const metric = config.metric
  if (!(metric in SPACE)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `metric must be cosine, dot or euclidean, got ${JSON.stringify(metric)}`,
    )
  }
  const path = config.path === undefined || config.path === ':memory:' ? undefined : config.path
  const loaded = path === undefined ? undefined : await load(path, dimension, metric)
  let native: Native
  if (loaded) {
    native = loaded.native
  } else {
    native = new HierarchicalNSW(SPACE[metric], dimension)
    native.initIndex({
      maxElements: Math.max(16, config.initialCapacity ?? 1024),
      m: config.m ?? HNSW_DEFAULTS.m,
      efConstruction: config.efConstruction ?? HNSW_DEFAULTS.efConstruction,
      allowReplaceDeleted: false,
    })
  }
  return new HnswlibIndex(native, { ...config, path, dimension, metric }, loaded?.sidecar)
}

/** Deletes the index file at `path` and its checkpoint; missing files are ignored. */
export async function removeHnswIndex(path: string): Promise<void> {
  if (path === ':memory:') return
  await Promise.all([rm(path, { force: true }), rm(`${path}.json`, { force: true })])
}

async function load(
  path: string,
  dimension: number,
  metric: VectorMetric,
): Promise<{ native: Native; sidecar: Sidecar } | undefined> {
  let sidecar: Sidecar
  try {
    sidecar = JSON.parse(await readFile(`${path}.json`, 'utf8')) as Sidecar
    const size = (await stat(path)).size
    if (sidecar.version !== 1 || sidecar.bytes !== size) return undefined
  } catch {
    return undefined
  }
  if (sidecar.dimension !== dimension || sidecar.metric !== metric) return undefined
  const native = new HierarchicalNSW(SPACE[metric], dimension)
  try {
    await native.readIndex(path, false)
  } catch {
    return undefined
  }
  return { native, sidecar }
}

class HnswlibIndex implements HnswIndex {
  readonly dimension: number
  readonly metric: VectorMetric
  #native: Native | undefined
  readonly #path: string | undefined
  readonly #efSearch: number
  readonly #mutex = new Mutex()
  readonly #live: Set<number>
  readonly #deleted: Set<number>
  #checkpoint: string | undefined
  #ef = -1

  constructor(
    native: Native,
    config: HnswIndexConfig & { path: string | undefined },
    sidecar: Sidecar | undefined,
  ) {
    this.#native = native
    this.dimension = config.dimension
    this.metric = config.metric
    this.#path = config.path
    this.#efSearch = config.efSearch ?? HNSW_DEFAULTS.efSearch
    this.#checkpoint = sidecar?.checkpoint
    this.#deleted = new Set(sidecar?.deleted ?? [])
    this.#live = new Set(native.getIdsList().filter((label) => !this.#deleted.has(label)))
  }

  get checkpoint(): string | undefined {
    return this.#checkpoint
  }

  size(): number {
    return this.#live.size
  }

  add(items: ReadonlyArray<{ label: number; vector: Float32Array }>): Promise<void> {
    return this.#locked((native) => {
      const fresh = items.filter(
        (item) => !this.#live.has(item.label) && !this.#deleted.has(item.label),
      ).length
      const needed = native.getCurrentCount() + fresh
      if (needed > native.getMaxElements()) native.resizeIndex(Math.max(needed, native.getMaxElements() * 2))
      for (const { label, vector } of items) {
        checkLabel(label)
        if (vector.length !== this.dimension) {
          throw new StorageError(
            'DIMENSION_MISMATCH',
            `vector has ${vector.length} dimensions; the index has ${this.dimension}`,
          )
        }
        // An existing label (live or marked deleted) is updated in place and revived.
        native.addPoint(toArray(vector), label)
        this.#live.add(label)
        this.#deleted.delete(label)
      }
    })
  }

  remove(labels: readonly number[]): Promise<void> {
    return this.#locked((native) => {
      for (const label of labels) {
        if (!this.#live.has(label)) continue
        native.markDelete(label)
        this.#live.delete(label)
        this.#deleted.add(label)
      }
    })
  }

  search(vector: Float32Array, k: number, accept?: (label: number) => boolean): Promise<AnnHit[]> {
    return this.#locked((native) => {
      if (vector.length !== this.dimension) {
        throw new StorageError(
          'DIMENSION_MISMATCH',
          `query has ${vector.length} dimensions; the index has ${this.dimension}`,
        )
      }
      const want = Math.min(k, this.#live.size)
      if (want < 1) return []
      const ef = Math.max(this.#efSearch, want)
      if (ef !== this.#ef) {
        native.setEf(ef)
        this.#ef = ef
      }
      const result = native.searchKnn(toArray(vector), want, accept)
      return result.neighbors.map((label, i) => ({
        label,
        score: toScore(this.metric, result.distances[i] as number),
      }))
    })
  }

  persist(checkpoint?: string): Promise<void> {
    return this.#locked(async (native) => {
      const path = this.#path
      if (path !== undefined) {
        // Index first, checkpoint second: a crash in between leaves an older checkpoint, which
        // only makes the caller replay changes the index already holds (adds and removes are idempotent).
        await native.writeIndex(`${path}.tmp`)
        const bytes = (await stat(`${path}.tmp`)).size
        const sidecar: Sidecar = {
          version: 1,
          dimension: this.dimension,
          metric: this.metric,
          bytes,
          deleted: [...this.#deleted],
        }
        if (checkpoint !== undefined) sidecar.checkpoint = checkpoint
        await writeFile(`${path}.json.tmp`, JSON.stringify(sidecar))
        // Both files reach the disk before either replaces its predecessor, and the renames
        // themselves are made durable, so a power cut never leaves a torn or vanished pair.
        await syncFile(`${path}.tmp`)
        await syncFile(`${path}.json.tmp`)
        await rename(`${path}.tmp`, path)
        await rename(`${path}.json.tmp`, `${path}.json`)
        await syncFolder(dirname(path))
      }
      this.#checkpoint = checkpoint
    })
  }

  async close(): Promise<void> {
    await this.#mutex.acquire()
    this.#native = undefined
    this.#mutex.release()
  }

  async #locked<T>(fn: (native: Native) => T | Promise<T>): Promise<T> {
    await this.#mutex.acquire()
    try {
      const native = this.#native
      if (!native)
        throw new StorageError('CLOSED', 'This HNSW index is closed; open it again with createHnswIndex()')
      return await fn(native)
    } finally {
      this.#mutex.release()
    }
  }
}

/** Flushes a file's contents to the disk. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Makes renames in a folder durable; platforms that cannot open a folder (Windows) skip it. */
async function syncFolder(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(path, 'r')
    await handle.sync()
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw error
  } finally {
    await handle?.close()
  }
}

/**
 * hnswlib-node takes plain arrays. A loop into a fresh array is over ten times cheaper than
 * `Array.from` on a Float32Array (about 0.8 against 8 µs for 384 numbers), a tenth of a search
 * at 10,000 records.
 */
function toArray(vector: Float32Array): number[] {
  const n = vector.length
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = vector[i] as number
  return out
}

/** hnswlib distances to core's scores: cosine and ip give `1 - x`, l2 gives the squared distance. */
function toScore(metric: VectorMetric, distance: number): number {
  if (metric === 'euclidean') return -Math.sqrt(Math.max(0, distance))
  return 1 - distance
}

function checkLabel(label: number): void {
  if (!Number.isInteger(label) || label < 0 || label > 0xffffffff) {
    throw new StorageError('INVALID_ARGUMENT', `HNSW labels must be integers from 0 to 2^32-1, got ${label}`)
  }
}
