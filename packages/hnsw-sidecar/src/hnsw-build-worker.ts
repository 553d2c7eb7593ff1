// The worker thread `buildHnswIndex` starts: it builds (or extends) one graph from the batches
// the main thread sends, writes it to a file and ends, so the build never holds up the event loop.
import { statSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import { HnswGraph, type Space } from './hnsw-graph.js'

/** What the main thread passes when it starts the worker. */
export interface BuildWorkerData {
  space: Space
  dimension: number
  m: number
  efConstruction: number
  capacity: number
  /** An index file to start from, with the labels it holds marked deleted. */
  base?: { path: string; bytes: number; removed: number[] }
  /** Where the finished index is written. */
  output: string
}

/** Messages from the main thread. */
export type BuildRequest =
  | { kind: 'add'; labels: Float64Array; vectors: Float32Array }
  | { kind: 'remove'; labels: number[] }
  | { kind: 'finish' }

/** Messages to the main thread: each batch acknowledged (for flow control), then the result. */
export type BuildReply =
  | { kind: 'added' }
  | { kind: 'done'; removed: number[] }
  | { kind: 'failed'; message: string }

const port = parentPort
if (port) {
  const data = workerData as BuildWorkerData
  let graph: HnswGraph
  try {
    if (data.base) {
      // The file must still be the one whose checkpoint the plan was made for.
      if (statSync(data.base.path).size !== data.base.bytes)
        throw new Error('the index file changed since the build began')
      const native = HnswGraph.blank(data.space, data.dimension)
      native.readIndexSync(data.base.path, true)
      graph = new HnswGraph(native, data.dimension, data.base.removed)
    } else {
      graph = new HnswGraph(HnswGraph.create(data.space, data.dimension, data), data.dimension)
    }
  } catch (error) {
    port.postMessage({ kind: 'failed', message: String(error) } satisfies BuildReply)
    port.close()
    process.exit(1)
  }
  port.on('message', (request: BuildRequest) => {
    try {
      if (request.kind === 'add') {
        const d = data.dimension
        const items = Array.from(request.labels, (label, i) => ({
          label,
          vector: request.vectors.subarray(i * d, (i + 1) * d),
        }))
        graph.add(items)
        port.postMessage({ kind: 'added' } satisfies BuildReply)
      } else if (request.kind === 'remove') {
        graph.remove(request.labels)
      } else {
        graph.native.writeIndexSync(data.output)
        port.postMessage({ kind: 'done', removed: graph.removedLabels() } satisfies BuildReply)
        port.close()
      }
    } catch (error) {
      port.postMessage({ kind: 'failed', message: String(error) } satisfies BuildReply)
      port.close()
    }
  })
}
