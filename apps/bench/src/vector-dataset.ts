import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { recallAtK } from './exact-top-k.js'
import { type Stats, timeEach } from './measure.js'
import { formatMs } from './result-table.js'

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
