import type { Schemas } from '@qdrant/js-client-rest'

type Distance = Schemas['Distance']
type SparseVector = Schemas['SparseVector']

const F32_EPSILON = 2 ** -23

/**
 * What Qdrant does to a dense vector before storing it or searching with it: Cosine vectors
 * are normalised to length 1 (unless zero or already within 1e-6 of length 1), so a Cosine
 * collection hands back the normalised vector, not the one that was sent.
 */
export function preprocess(distance: Distance, vector: readonly number[]): number[] {
  const f32 = vector.map((x) => Math.fround(x))
  if (distance !== 'Cosine') return f32
  let length = 0
  for (const x of f32) length += x * x
  if (length < F32_EPSILON || Math.abs(length - 1) <= 1e-6) return f32
  const norm = Math.sqrt(length)
  return f32.map((x) => Math.fround(x / norm))
}

/**
 * The engine's internal similarity, higher is better: dot product for Cosine (on normalised
 * vectors) and Dot, minus the squared distance for Euclid, minus the L1 distance for Manhattan.
 */
export function similarity(distance: Distance, query: readonly number[], stored: readonly number[]): number {
  let sum = 0
  for (let i = 0; i < query.length; i++) {
    const q = query[i] as number
    const s = stored[i] as number
    if (distance === 'Euclid') sum -= (q - s) * (q - s)
    else if (distance === 'Manhattan') sum -= Math.abs(q - s)
    else sum += q * s
  }
  return sum
}

/** The score Qdrant reports: Euclid as the distance itself (`sqrt(|s|)`), Manhattan as `|s|`, the others unchanged. */
export function reportedScore(distance: Distance, internal: number): number {
  if (distance === 'Euclid') return Math.fround(Math.sqrt(Math.abs(internal)))
  if (distance === 'Manhattan') return Math.fround(Math.abs(internal))
  return Math.fround(internal)
}

/**
 * Qdrant's IDF for a sparse vector with `modifier: idf` (lib/segment/src/data_types/query_context.rs):
 * `ln((n - df + 0.5) / (df + 0.5) + 1)`, where `n` counts the points holding that sparse vector
 * and `df` those whose vector has the dimension.
 */
export function idf(n: number, df: number): number {
  return Math.log((n - df + 0.5) / (df + 0.5) + 1)
}

/**
 * A sparse query's score against a stored sparse vector: the dot product over shared
 * dimensions, each query weight first multiplied by `weight(dimension)` (the IDF, or 1).
 * `undefined` when they share no dimension: Qdrant's sparse search only returns overlapping points.
 */
export function sparseScore(
  query: SparseVector,
  stored: SparseVector,
  weight: (dimension: number) => number,
): number | undefined {
  const values = new Map<number, number>()
  stored.indices.forEach((index, i) => {
    values.set(index, stored.values[i] as number)
  })
  let score = 0
  let overlap = false
  query.indices.forEach((index, i) => {
    const value = values.get(index)
    if (value === undefined) return
    overlap = true
    score += Math.fround((query.values[i] as number) * weight(index)) * value
  })
  return overlap ? Math.fround(score) : undefined
}

/** A ranked point id, as fusion sees it. */
export interface Ranked<T> {
  /** The point. */
  readonly item: T
  /** Its key, unique per point. */
  readonly key: string
}

/**
 * Qdrant's Reciprocal Rank Fusion (lib/segment/src/common/reciprocal_rank_fusion.rs): a point
 * at 0-based position `p` of a list adds `1 / ((p + 1) / weight + k - 1)`, which is
 * `1 / (p + k)` with the default weight of 1. `fusion: "rrf"` uses k = 2.
 */
export function reciprocalRankFusion<T>(
  lists: ReadonlyArray<ReadonlyArray<Ranked<T>>>,
  k: number,
  weights?: readonly number[],
): Array<{ item: T; score: number }> {
  const fused = new Map<string, { item: T; score: number }>()
  lists.forEach((list, listIndex) => {
    const weight = weights?.[listIndex] ?? 1
    list.forEach((entry, position) => {
      const add = weight <= 0 ? 0 : Math.fround(1 / ((position + 1) / weight + k - 1))
      const existing = fused.get(entry.key)
      if (existing) existing.score = Math.fround(existing.score + add)
      else fused.set(entry.key, { item: entry.item, score: add })
    })
  })
  return [...fused.values()].sort((a, b) => b.score - a.score)
}
