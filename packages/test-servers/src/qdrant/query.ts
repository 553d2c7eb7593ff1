import type { Schemas } from '@qdrant/js-client-rest'
import {
  type CollectionStore,
  checkSparse,
  type StoredPoint,
  type TestCollection,
  toRecord,
} from './collection-store.js'
import { comparePointIds } from './point-id.js'
import { notImplemented, QdrantHttpError } from './qdrant-http-error.js'
import { idf, preprocess, reciprocalRankFusion, reportedScore, similarity, sparseScore } from './scoring.js'

type Filter = Schemas['Filter']
type SparseVector = Schemas['SparseVector']

/** A scored candidate inside one query. */
interface Scored {
  readonly point: StoredPoint
  readonly score: number
}

/** The query of a request or prefetch, with what it needs from its parent. */
interface Stage {
  prefetch?: Schemas['Prefetch'] | Schemas['Prefetch'][] | Record<string, unknown> | null
  query?: Schemas['QueryInterface'] | Record<string, unknown> | null
  using?: string | null
  filter?: Filter | Record<string, unknown> | null
  limit?: number | null
}

/** `POST /collections/{name}/points/query`: the Query API subset engram uses, exact (no HNSW). */
export function queryPoints(
  store: CollectionStore,
  name: string,
  request: Schemas['QueryRequest'],
): Schemas['QueryResponse'] {
  const collection = store.get(name)
  if (request.lookup_from) throw notImplemented('lookup_from')
  if (request.score_threshold !== null && request.score_threshold !== undefined)
    throw notImplemented('score_threshold')
  const limit = checkLimit(request.limit ?? 10)
  const offset = request.offset ?? 0
  const ranked = runStage(store, collection, request, undefined, limit + offset)
  const withPayload = request.with_payload ?? false
  const withVector = request.with_vector ?? false
  return {
    points: ranked.slice(offset, offset + limit).map(({ point, score }) => ({
      ...toRecord(collection, point, withPayload, withVector),
      version: point.version,
      score,
    })),
  }
}

/** `POST /collections/{name}/points/query/batch`: each search answered as `/points/query` would. */
export function queryBatch(
  store: CollectionStore,
  name: string,
  request: Schemas['QueryRequestBatch'],
): Schemas['QueryResponse'][] {
  if (!Array.isArray(request.searches))
    throw new QdrantHttpError(400, 'Format error in JSON body: missing field `searches`')
  return request.searches.map((search) => queryPoints(store, name, search))
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new QdrantHttpError(
      422,
      `Validation error in JSON body: [limit: value ${limit} invalid, must be 1 or larger]`,
    )
  }
  return limit
}

/**
 * Runs one stage: its prefetches first (each also under the parent's filter, which Qdrant
 * propagates to every prefetch), then its query over their results, or over the whole
 * filtered collection when it has none.
 */
function runStage(
  store: CollectionStore,
  collection: TestCollection,
  stage: Stage,
  inherited: Filter | undefined,
  limit: number,
): Scored[] {
  const filter = mergeFilters(inherited, stage.filter as Filter | null | undefined)
  const prefetches = stage.prefetch === null || stage.prefetch === undefined ? [] : [stage.prefetch].flat()
  const query = stage.query as Schemas['QueryInterface'] | null | undefined
  if (prefetches.length === 0) {
    const candidates = store.matching(collection, filter)
    if (query === null || query === undefined)
      return candidates.slice(0, limit).map((point) => ({ point, score: 0 }))
    return nearest(collection, candidates, query, stage.using ?? '').slice(0, limit)
  }
  const lists = (prefetches as Schemas['Prefetch'][]).map((prefetch) =>
    runStage(store, collection, prefetch, filter, checkLimit(prefetch.limit ?? 10)),
  )
  if (query !== null && typeof query === 'object' && !Array.isArray(query)) {
    if ('fusion' in query) {
      if (query.fusion !== 'rrf') throw notImplemented(`${query.fusion} fusion`)
      return fuse(lists, 2, undefined).slice(0, limit)
    }
    if ('rrf' in query) {
      const k = query.rrf.k ?? 2
      if (!Number.isInteger(k) || k < 1) {
        throw new QdrantHttpError(
          422,
          `Validation error in JSON body: [query.rrf.k: value ${k} invalid, must be 1 or larger]`,
        )
      }
      const weights = query.rrf.weights ?? undefined
      if (weights && weights.length !== lists.length) {
        throw new QdrantHttpError(
          400,
          `Wrong input: Number of weights in RRF should match number of pre-fetches: got ${weights.length}, expected ${lists.length}`,
        )
      }
      return fuse(lists, k, weights).slice(0, limit)
    }
  }
  if (query === null || query === undefined) throw notImplemented('prefetch without a fusion query')
  // A nearest query over prefetched candidates rescores their union.
  const union = new Map(lists.flat().map(({ point }) => [point.key, point]))
  return nearest(collection, [...union.values()], query, stage.using ?? '').slice(0, limit)
}

function fuse(lists: Scored[][], k: number, weights: readonly number[] | undefined): Scored[] {
  return reciprocalRankFusion(
    lists.map((list) => list.map((entry) => ({ item: entry.point, key: entry.point.key }))),
    k,
    weights,
  ).map(({ item, score }) => ({ point: item, score }))
}

/** Scores every candidate against a nearest query on the named vector, best first. */
function nearest(
  collection: TestCollection,
  candidates: StoredPoint[],
  query: Schemas['QueryInterface'],
  using: string,
): Scored[] {
  let input: unknown = query
  if (typeof query === 'object' && query !== null && !Array.isArray(query)) {
    if ('nearest' in query) {
      if (query.mmr) throw notImplemented('MMR')
      input = query.nearest
    } else if (!('indices' in query)) {
      throw notImplemented(`the query ${JSON.stringify(Object.keys(query))}`)
    }
  }
  const dense = collection.dense.get(using)
  const sparse = collection.sparse.get(using)
  if (!dense && !sparse) {
    throw new QdrantHttpError(
      400,
      `Wrong input: Not existing vector name error: ${using === '' ? 'default vector' : using}`,
    )
  }
  if (dense) {
    if (!Array.isArray(input) || !input.every((x) => typeof x === 'number')) {
      throw new QdrantHttpError(400, `Wrong input: Query of vector ${using} must be a dense vector`)
    }
    if (input.length !== dense.size) {
      throw new QdrantHttpError(
        400,
        `Wrong input: Vector dimension error: expected dim: ${dense.size}, got ${input.length}`,
      )
    }
    const q = preprocess(dense.distance, input)
    const scored: Array<Scored & { internal: number }> = []
    for (const point of candidates) {
      const stored = point.vectors.get(using)
      if (!Array.isArray(stored)) continue
      const internal = similarity(dense.distance, q, stored)
      scored.push({ point, internal, score: reportedScore(dense.distance, internal) })
    }
    return scored.sort((a, b) => b.internal - a.internal || comparePointIds(a.point.id, b.point.id))
  }
  const q = checkSparse(input, 'query')
  const weight = sparseWeights(collection, using, q, sparse as Schemas['SparseVectorParams'])
  const scored: Scored[] = []
  for (const point of candidates) {
    const stored = point.vectors.get(using)
    if (stored === undefined || Array.isArray(stored)) continue
    const score = sparseScore(q, stored, weight)
    if (score !== undefined) scored.push({ point, score })
  }
  return scored.sort((a, b) => b.score - a.score || comparePointIds(a.point.id, b.point.id))
}

/** The per-dimension weight of a sparse query: IDF over the whole collection when the vector has `modifier: idf`. */
function sparseWeights(
  collection: TestCollection,
  using: string,
  query: SparseVector,
  params: Schemas['SparseVectorParams'],
): (dimension: number) => number {
  if (params.modifier !== 'idf') return () => 1
  let n = 0
  const df = new Map<number, number>(query.indices.map((index) => [index, 0]))
  for (const point of collection.points.values()) {
    const vector = point.vectors.get(using)
    if (vector === undefined || Array.isArray(vector)) continue
    n++
    for (const index of vector.indices) {
      const count = df.get(index)
      if (count !== undefined) df.set(index, count + 1)
    }
  }
  return (dimension) => idf(n, df.get(dimension) ?? 0)
}

function mergeFilters(a: Filter | undefined, b: Filter | null | undefined): Filter | undefined {
  if (b === null || b === undefined) return a
  if (a === undefined) return b
  return { must: [a, b] }
}
