import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { clusteredVectors } from './clustered-vectors.js'
import { recallAtK } from './exact-top-k.js'
import { readTruth } from './ground-truth.js'
import { loadEmbeddings } from './load-embeddings.js'
import { type Stats, timeEach } from './measure.js'
import { formatMs } from './result-table.js'
import type { EmbeddingsSource } from './suite-options.js'

/** Results per query. */
export const TOP_K = 10

/** One data set of the vector suite, the same for every system in the run. */
export interface VectorDataset {
  /** For titles: "10,000 × 384". */
  label: string
  dimension: number
  /** Record `i` has id `v<i>`. */
  data: Float32Array[]
  /** Held-out queries (not in `data`). */
  queries: Float32Array[]
  /** Exact top 10 ids per query: what recall@10 is measured against. */
  truth: string[][]
  /** Timed queries for systems that answer in well under a millisecond. */
  fastQueries: number
  /** Timed queries for systems that scan every vector. */
  slowQueries: number
  /** Scratch folder for files. */
  folder: string
}

/**
 * What a process needs to rebuild a vector-suite data set exactly: sizes, seeds or the embeddings
 * file, and where the ground truth was written. Small enough to send to a child process.
 */
export interface VectorDatasetSpec {
  /** Records (fewer when an embeddings file has fewer). */
  count: number
  /** Numbers per vector. */
  dimension: number
  /** Held-out queries (200 at full size). */
  recallQueries: number
  /** Smoke sizes: fewer timed queries. */
  smoke: boolean
  /** Real vectors instead of generated ones. */
  embeddings?: EmbeddingsSource
  /** The scratch folder. */
  folder: string
  /** The ground-truth file (`ground-truth.ts`); omitted while the truth is being computed. */
  truthFile?: string
}

/** The seeds of a generated data set: the data's, and the held-out queries' (never the same). */
export function vectorSeeds(dimension: number): { data: number; queries: number } {
  const data = 3 + dimension
  return { data, queries: data === 7 ? 8 : 7 }
}

/**
 * The data set a spec names: seeded clustered vectors (200 centres, σ 0.6) with held-out queries
 * from the same centres, or the embeddings file with its last `recallQueries` vectors held out.
 */
export function buildVectorDataset(spec: VectorDatasetSpec): VectorDataset {
  let data: Float32Array[]
  let queries: Float32Array[]
  if (spec.embeddings) {
    const real = loadEmbeddings(spec.embeddings)
    // Queries are held out from the end of the file, so they are never in the data.
    const available = real.vectors.length - spec.recallQueries
    if (available <= 0) throw new Error(`the embeddings file needs more than ${spec.recallQueries} vectors`)
    data = real.vectors.slice(0, Math.min(spec.count, available))
    queries = real.vectors.slice(-spec.recallQueries)
  } else {
    const seeds = vectorSeeds(spec.dimension)
    data = clusteredVectors({ count: spec.count, dimension: spec.dimension, seed: seeds.data })
    queries = clusteredVectors({ count: spec.recallQueries, dimension: spec.dimension, seed: seeds.queries })
  }
  const dimension = data[0]?.length ?? spec.dimension
  let truth: string[][] = []
  if (spec.truthFile) {
    const read = readTruth(spec.truthFile)
    if (!read) throw new Error(`the ground truth ${spec.truthFile} is missing or damaged`)
    truth = read
  }
  return {
    label: `${data.length.toLocaleString('en-US')} × ${dimension}`,
    dimension,
    data,
    queries,
    truth,
    // Scans cost about a microsecond per vector per query; keep their timed runs to seconds.
    slowQueries: spec.smoke ? 5 : Math.max(20, Math.min(200, Math.round(2e7 / (data.length * dimension)))),
    fastQueries: spec.smoke ? 20 : 1000,
    folder: spec.folder,
  }
}

/**
 * Asks every query once for recall@10 against the exact ground truth, then times `timedQueries`
 * sequential queries (cycling through the held-out set) after a short warm-up: what one agent
 * process sees, one query at a time.
 */
export async function measureSearch(
  dataset: VectorDataset,
  search: (q: Float32Array) => Promise<string[]> | string[],
  timedQueries: number,
): Promise<{ stats: Stats; recall: number }> {
  const queries = dataset.queries.slice(0, Math.max(1, Math.min(dataset.queries.length, timedQueries)))
  const results: string[][] = []
  for (const q of queries) results.push(await search(q))
  const recall = recallAtK(results, dataset.truth.slice(0, queries.length))
  for (let i = 0; i < Math.min(10, timedQueries); i++)
    await search(queries[i % queries.length] as Float32Array)
  // At most about 30 s of timed queries per row, so a system that scans where others use an index
  // (and takes hundreds of milliseconds a query at 100k) still finishes; the notes give the count.
  const stats = await timeEach(timedQueries, (i) => search(queries[i % queries.length] as Float32Array), 1, {
    maxMs: 30_000,
    minCount: 20,
  })
  return { stats, recall }
}

/** Extra columns of the vector tables. */
export const VECTOR_COLUMNS = ['ingest', 'index build', 'recall@10', 'peak RSS ingest+build', 'on disk']

/** The extra cells of a vector row. */
export function vectorExtras(cells: {
  ingestMs?: number
  buildMs?: number
  recall: number
  buildRss?: number
  diskBytes?: number
}): Record<string, string> {
  return {
    ingest: cells.ingestMs === undefined ? '-' : formatMs(cells.ingestMs),
    'index build': cells.buildMs === undefined ? '-' : formatMs(cells.buildMs),
    'recall@10': cells.recall.toFixed(4),
    'peak RSS ingest+build': cells.buildRss === undefined ? '-' : `${(cells.buildRss / 1e6).toFixed(0)} MB`,
    'on disk': cells.diskBytes === undefined ? '-' : `${(cells.diskBytes / 1e6).toFixed(1)} MB`,
  }
}

/** Bytes under a path (a file or a folder), or 0 when it does not exist. */
export function sizeOnDisk(path: string): number {
  try {
    const info = statSync(path)
    if (!info.isDirectory()) return info.size
    return readdirSync(path).reduce((sum, name) => sum + sizeOnDisk(join(path, name)), 0)
  } catch {
    return 0
  }
}
