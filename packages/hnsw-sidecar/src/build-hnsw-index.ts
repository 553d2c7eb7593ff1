import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { HNSW_DEFAULTS, integerOption, StorageError } from '@engram/core'
import type { BuildReply, BuildRequest, BuildWorkerData } from './hnsw-build-worker.js'
import { HnswGraph } from './hnsw-graph.js'
import {
  checkHnswConfig,
  checkLabel,
  type HnswIndex,
  type HnswIndexConfig,
  HnswlibIndex,
} from './hnsw-index.js'
import { readIndexRecord, SPACE, writeIndexFiles } from './index-files.js'

/** What a build applies, chosen once the builder knows which checkpoint the existing file holds. */
export interface HnswBuildPlan {
  /** Start from the index file at `path` (its checkpoint was offered) instead of an empty index. */
  extend: boolean
  /** The vectors to add (or replace), in batches. */
  items: AsyncIterable<ReadonlyArray<{ label: number; vector: Float32Array }>>
  /** Labels to remove once every batch is in. */
  removed?: () => Promise<readonly number[]>
  /** The checkpoint written with the finished index (a file index only). */
  checkpoint?: string
}

/** Options for `buildHnswIndex`. */
export interface HnswBuildOptions {
  /** Stops the build: the worker ends, nothing is written, and the promise rejects with `CLOSED`. */
  signal?: AbortSignal
}

/** Batches in flight to the worker at most: the reading side stays a little ahead, never far. */
const IN_FLIGHT = 2

/**
 * Builds an index in a worker thread, so a long build (tens of seconds at 100,000 vectors)
 * never blocks the event loop or delays a query. `plan` is called with the checkpoint of the
 * usable index file at `config.path` (or `undefined`) and says what to apply: every vector into
 * a new index, or, with `extend`, the changes since that checkpoint on top of the file. The
 * finished index replaces the file (with `plan.checkpoint`) exactly as `persist` would, then is
 * loaded and returned ready to search. An in-memory index (no path) goes through a temporary file.
 *
 * @example
 * const index = await buildHnswIndex({ path, dimension: 384, metric: 'cosine' }, async () => ({
 *   extend: false,
 *   items: pagesOfVectors(),
 *   checkpoint: 'my-checkpoint',
 * }))
 */
export async function buildHnswIndex(
  config: HnswIndexConfig,
  plan: (checkpoint: string | undefined) => HnswBuildPlan | Promise<HnswBuildPlan>,
  options: HnswBuildOptions = {},
): Promise<HnswIndex> {
  const checked = checkHnswConfig(config)
  const { dimension, metric, path } = checked
  const base = path === undefined ? undefined : await readIndexRecord(path, dimension, metric)
  const chosen = await plan(base?.checkpoint)
  const extend = chosen.extend && base !== undefined && path !== undefined
  const output = path === undefined ? join(tmpdir(), `engram-hnsw-${randomUUID()}.hnsw`) : `${path}.tmp`
  const data: BuildWorkerData = {
    space: SPACE[metric],
    dimension,
    m: config.m ?? HNSW_DEFAULTS.m,
    efConstruction: config.efConstruction ?? HNSW_DEFAULTS.efConstruction,
    capacity: Math.max(16, integerOption(config.initialCapacity, 1024, 'initialCapacity')),
    output,
  }
  if (extend) data.base = { path, bytes: base.bytes, removed: base.deleted }
  const worker = new BuildWorker(data, options.signal)
  try {
    for await (const batch of chosen.items) {
      if (batch.length > 0) await worker.add(batch, dimension)
    }
    const removed = (await chosen.removed?.()) ?? []
    if (removed.length > 0) worker.send({ kind: 'remove', labels: [...removed] })
    const deleted = await worker.finish()
    const record = {
      dimension,
      metric,
      deleted,
      ...(chosen.checkpoint === undefined ? {} : { checkpoint: chosen.checkpoint }),
    }
    // The worker wrote `<path>.tmp`: from here on it is the same commit as `persist`.
    if (path !== undefined) await writeIndexFiles(path, async () => undefined, record)
    options.signal?.throwIfAborted()
    const native = HnswGraph.blank(SPACE[metric], dimension)
    await native.readIndex(path ?? output, true)
    const graph = new HnswGraph(native, dimension, deleted)
    return new HnswlibIndex(graph, checked, path === undefined ? undefined : record)
  } catch (error) {
    worker.stop()
    if (path !== undefined) await rm(output, { force: true })
    if (options.signal?.aborted) {
      throw new StorageError('CLOSED', 'The HNSW index build was stopped before it finished', {
        cause: error,
      })
    }
    throw error
  } finally {
    if (path === undefined) await rm(output, { force: true })
  }
}

/** The worker's side of the conversation: batches with flow control, then the finished file. */
class BuildWorker {
  readonly #worker: Worker
  /** Replies not yet taken, and the callers waiting for the next one. */
  readonly #replies: BuildReply[] = []
  readonly #waiting: Array<{ resolve: (reply: BuildReply) => void; reject: (error: unknown) => void }> = []
  #failure: unknown
  #inFlight = 0

  constructor(data: BuildWorkerData, signal: AbortSignal | undefined) {
    this.#worker = new Worker(new URL('./hnsw-build-worker.js', import.meta.url), { workerData: data })
    this.#worker.on('message', (reply: BuildReply) => {
      const next = this.#waiting.shift()
      if (next) next.resolve(reply)
      else this.#replies.push(reply)
    })
    const fail = (error: unknown) => {
      this.#failure ??= error
      for (const next of this.#waiting.splice(0)) next.reject(error)
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) =>
      fail(new StorageError('QUERY_FAILED', `The HNSW build worker ended (code ${code})`)),
    )
    signal?.addEventListener(
      'abort',
      () => {
        fail(signal.reason)
        this.stop()
      },
      { once: true },
    )
    if (signal?.aborted) fail(signal.reason)
  }

  /** Sends one batch, after waiting while too many are still being added. */
  async add(batch: ReadonlyArray<{ label: number; vector: Float32Array }>, dimension: number): Promise<void> {
    while (this.#inFlight >= IN_FLIGHT) await this.#expect('added')
    const labels = new Float64Array(batch.length)
    const vectors = new Float32Array(batch.length * dimension)
    batch.forEach(({ label, vector }, i) => {
      checkLabel(label)
      if (vector.length !== dimension) {
        throw new StorageError(
          'DIMENSION_MISMATCH',
          `vector has ${vector.length} dimensions; the index has ${dimension}`,
        )
      }
      labels[i] = label
      vectors.set(vector, i * dimension)
    })
    this.#inFlight++
    this.send({ kind: 'add', labels, vectors }, [labels.buffer, vectors.buffer])
  }

  send(request: BuildRequest, transfer: ArrayBuffer[] = []): void {
    if (this.#failure !== undefined) throw this.#failure
    this.#worker.postMessage(request, transfer)
  }

  /** Waits for every batch, asks for the file, and returns the labels the index holds marked deleted. */
  async finish(): Promise<number[]> {
    while (this.#inFlight > 0) await this.#expect('added')
    this.send({ kind: 'finish' })
    const reply = await this.#expect('done')
    return reply.kind === 'done' ? reply.removed : []
  }

  stop(): void {
    void this.#worker.terminate()
  }

  async #expect(kind: 'added' | 'done'): Promise<BuildReply> {
    const reply = await this.#next()
    if (reply.kind === 'failed')
      throw new StorageError('QUERY_FAILED', `The HNSW index build failed: ${reply.message}`)
    if (reply.kind !== kind)
      throw new StorageError('QUERY_FAILED', `The HNSW build worker sent ${reply.kind}, not ${kind}`)
    if (kind === 'added') this.#inFlight--
    return reply
  }

  #next(): Promise<BuildReply> {
    const ready = this.#replies.shift()
    if (ready) return Promise.resolve(ready)
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }))
  }
}
