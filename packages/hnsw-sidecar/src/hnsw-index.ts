import { rm } from 'node:fs/promises'
import {
  type AnnHit,
  type AnnIndexOptions,
  type CheckpointedAnnIndex,
  HNSW_DEFAULTS,
  integerOption,
  Mutex,
  StorageError,
  type VectorMetric,
} from '@engram/core'
import { HnswGraph, toArray } from './hnsw-graph.js'
import { type IndexRecord, loadIndex, SPACE, writeIndexFiles } from './index-files.js'

/**
 * Options for `createHnswIndex`: core's `AnnIndexOptions` (the index file, kept with its
 * checkpoint in `<path>.json`; omit it or pass `':memory:'` to keep the index in memory) plus
 * the capacity of a new index.
 */
export interface HnswIndexConfig extends AnnIndexOptions {
  /** Capacity reserved when a new index is created; it grows by itself. Default is `1024`. */
  initialCapacity?: number
}

/**
 * An index on hnswlib-node: core's `CheckpointedAnnIndex`, whose `persist` writes the index and
 * then its checkpoint, each replaced atomically, plus its reserved capacity.
 */
export interface HnswIndex extends CheckpointedAnnIndex {
  /** Slots the index has reserved. A removed record's slot is reused by the next new one, so churn does not grow it. */
  capacity(): number
}

/** The checked form of a config: dimension and metric valid, `path` undefined for an in-memory index. */
export interface CheckedHnswConfig extends HnswIndexConfig {
  path?: string | undefined
}

/**
 * Opens the index at `path`, or creates an empty one when the file is missing. A file whose
 * checkpoint is missing, unreadable or written for another dimension or metric is ignored
 * (the index starts empty with no checkpoint), so the caller rebuilds instead of trusting it.
 *
 * @example
 * const index = await createHnswIndex({ path: 'app.db.docs.hnsw', dimension: 384, metric: 'cosine' })
 */
export async function createHnswIndex(config: HnswIndexConfig): Promise<HnswIndex> {
  const checked = checkHnswConfig(config)
  const loaded =
    checked.path === undefined ? undefined : await loadIndex(checked.path, checked.dimension, checked.metric)
  if (loaded)
    return new HnswlibIndex(
      new HnswGraph(loaded.native, checked.dimension, loaded.record.deleted),
      checked,
      loaded.record,
    )
  const native = HnswGraph.create(SPACE[checked.metric], checked.dimension, {
    capacity: Math.max(16, integerOption(config.initialCapacity, 1024, 'initialCapacity')),
    m: config.m ?? HNSW_DEFAULTS.m,
    efConstruction: config.efConstruction ?? HNSW_DEFAULTS.efConstruction,
  })
  return new HnswlibIndex(new HnswGraph(native, checked.dimension), checked, undefined)
}

/** Deletes the index file at `path` and its checkpoint; missing files are ignored. */
export async function removeHnswIndex(path: string): Promise<void> {
  if (path === ':memory:') return
  await Promise.all([rm(path, { force: true }), rm(`${path}.json`, { force: true })])
}

/** Checks the dimension and metric, and turns `':memory:'` into no path. */
export function checkHnswConfig(config: HnswIndexConfig): CheckedHnswConfig {
  const dimension = config?.dimension
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
  return { ...config, path }
}

/** The index itself: a graph, its file and checkpoint, and a lock so calls never overlap. */
export class HnswlibIndex implements HnswIndex {
  readonly dimension: number
  readonly metric: VectorMetric
  #graph: HnswGraph | undefined
  readonly #path: string | undefined
  readonly #efSearch: number
  readonly #mutex = new Mutex()
  #checkpoint: string | undefined
  #ef = -1

  constructor(
    graph: HnswGraph,
    config: CheckedHnswConfig,
    record: Pick<IndexRecord, 'checkpoint'> | undefined,
  ) {
    this.#graph = graph
    this.dimension = config.dimension
    this.metric = config.metric
    this.#path = config.path
    this.#efSearch = config.efSearch ?? HNSW_DEFAULTS.efSearch
    this.#checkpoint = record?.checkpoint
  }

  get checkpoint(): string | undefined {
    return this.#checkpoint
  }

  size(): number {
    return this.#graph?.size ?? 0
  }

  capacity(): number {
    return this.#graph?.capacity ?? 0
  }

  add(items: ReadonlyArray<{ label: number; vector: Float32Array }>): Promise<void> {
    return this.#locked((graph) => {
      for (const { label, vector } of items) {
        checkLabel(label)
        if (vector.length !== this.dimension) {
          throw new StorageError(
            'DIMENSION_MISMATCH',
            `vector has ${vector.length} dimensions; the index has ${this.dimension}`,
          )
        }
      }
      graph.add(items)
    })
  }

  remove(labels: readonly number[]): Promise<void> {
    return this.#locked((graph) => graph.remove(labels))
  }

  search(vector: Float32Array, k: number, accept?: (label: number) => boolean): Promise<AnnHit[]> {
    return this.#locked((graph) => {
      if (vector.length !== this.dimension) {
        throw new StorageError(
          'DIMENSION_MISMATCH',
          `query has ${vector.length} dimensions; the index has ${this.dimension}`,
        )
      }
      const want = Math.min(k, graph.size)
      if (want < 1) return []
      const ef = Math.max(this.#efSearch, want)
      const native = graph.native
      if (ef !== this.#ef) {
        native.setEf(ef)
        this.#ef = ef
      }
      const result = native.searchKnn(toArray(vector), want, accept)
      const hits = new Array<AnnHit>(result.neighbors.length)
      for (let i = 0; i < hits.length; i++) {
        hits[i] = {
          label: result.neighbors[i] as number,
          score: toScore(this.metric, result.distances[i] as number),
        }
      }
      return hits
    })
  }

  persist(checkpoint?: string): Promise<void> {
    return this.#locked(async (graph) => {
      const path = this.#path
      if (path !== undefined) {
        const record: Omit<IndexRecord, 'version' | 'bytes'> = {
          dimension: this.dimension,
          metric: this.metric,
          deleted: graph.removedLabels(),
        }
        if (checkpoint !== undefined) record.checkpoint = checkpoint
        await writeIndexFiles(path, (temporary) => graph.native.writeIndex(temporary), record)
      }
      this.#checkpoint = checkpoint
    })
  }

  async close(): Promise<void> {
    await this.#mutex.acquire()
    this.#graph = undefined
    this.#mutex.release()
  }

  async #locked<T>(fn: (graph: HnswGraph) => T | Promise<T>): Promise<T> {
    await this.#mutex.acquire()
    try {
      const graph = this.#graph
      if (!graph)
        throw new StorageError('CLOSED', 'This HNSW index is closed; open it again with createHnswIndex()')
      return await fn(graph)
    } finally {
      this.#mutex.release()
    }
  }
}

/** hnswlib distances to core's scores: cosine and ip give `1 - x`, l2 gives the squared distance. */
function toScore(metric: VectorMetric, distance: number): number {
  if (metric === 'euclidean') return -Math.sqrt(Math.max(0, distance))
  return 1 - distance
}

/** Labels are hnswlib's 32-bit unsigned integers. */
export function checkLabel(label: number): void {
  if (!Number.isInteger(label) || label < 0 || label > 0xffffffff) {
    throw new StorageError('INVALID_ARGUMENT', `HNSW labels must be integers from 0 to 2^32-1, got ${label}`)
  }
}
