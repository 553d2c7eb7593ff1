import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Where ground truths are cached between runs: one JSON file per data set and query set. */
export const TRUTH_FOLDER = join(tmpdir(), 'engram-bench-truth')

/** A cached ground truth: the exact top-k ids per query, and the file it lives in. */
export interface GroundTruth {
  /** The exact top-k ids per query. */
  truth: string[][]
  /** The cache file it lives in (what a child process reads). */
  file: string
  /** Whether it was read from the cache rather than computed now. */
  cached: boolean
}

/**
 * The exact top-k ids per query for the data set named by `key` (its generator, seeds, size and
 * query count), computed by `compute` once and then read from `TRUTH_FOLDER`. A brute-force scan
 * of 500,000 × 384 vectors for 200 queries takes minutes; the cache makes it a one-time cost.
 */
export async function cachedGroundTruth(
  key: string,
  compute: () => Promise<string[][]> | string[][],
): Promise<GroundTruth> {
  if (!/^[\w.-]+$/.test(key))
    throw new Error(`a ground-truth key is letters, digits, ".", "_" and "-", got "${key}"`)
  mkdirSync(TRUTH_FOLDER, { recursive: true })
  const file = join(TRUTH_FOLDER, `${key}.json`)
  if (existsSync(file)) {
    const truth = readTruth(file)
    if (truth) return { truth, file, cached: true }
  }
  const truth = await compute()
  // Written whole, then renamed: a parallel run never reads half a file.
  const partial = `${file}.${process.pid}.tmp`
  writeFileSync(partial, JSON.stringify(truth))
  renameSync(partial, file)
  return { truth, file, cached: false }
}

/** Reads a ground-truth file, or `undefined` when it is not one (a damaged cache is recomputed). */
export function readTruth(file: string): string[][] | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'))
    if (Array.isArray(value) && value.every((ids) => Array.isArray(ids))) return value as string[][]
  } catch {
    // Unreadable or not JSON: recomputed below.
  }
  return undefined
}

/**
 * The exact cosine top `k` of every query over data that arrives in batches (ids `v<index>` in
 * arrival order), holding only one batch and the running top k: the ground truth of a data set
 * too big to keep whole.
 */
export function streamingTopK(
  queries: readonly Float32Array[],
  batches: Iterable<Float32Array[]>,
  k: number,
): string[][] {
  const ids = queries.map(() => new Int32Array(k).fill(-1))
  const scores = queries.map(() => new Float64Array(k).fill(Number.NEGATIVE_INFINITY))
  let offset = 0
  for (const batch of batches) {
    for (const [b, vector] of batch.entries()) {
      let sum = 0
      for (const x of vector) sum += x * x
      const inverse = 1 / (Math.sqrt(sum) || 1)
      for (const [q, query] of queries.entries()) {
        let dot = 0
        for (let d = 0; d < vector.length; d++) dot += (vector[d] as number) * (query[d] as number)
        dot *= inverse
        const top = scores[q] as Float64Array
        const labels = ids[q] as Int32Array
        if (dot <= (top[k - 1] as number)) continue
        let at = k - 1
        while (at > 0 && dot > (top[at - 1] as number)) {
          top[at] = top[at - 1] as number
          labels[at] = labels[at - 1] as number
          at--
        }
        top[at] = dot
        labels[at] = offset + b
      }
    }
    offset += batch.length
  }
  return ids.map((labels) =>
    Array.from(labels)
      .filter((i) => i >= 0)
      .map((i) => `v${i}`),
  )
}
