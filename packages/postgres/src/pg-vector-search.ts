import type { SqlValue, StoreQuery, VectorMatch, VectorMetric } from '@engram/core'
import type { PgVectorSettings } from './pg-vector-config.js'
import { hybridSearch } from './pg-vector-hybrid.js'
import { distanceSql, HNSW_SETTINGS, type PgHnswIndex } from './pg-vector-index.js'
import { filterCondition } from './pg-vector-records.js'
import type { PgCollection } from './pg-vector-registry.js'
import { byScoreThenId, toMatch, vectorParam } from './pg-vector-rows.js'
import { textListSql } from './pg-vector-text-list.js'
import type { PgTextQuery } from './pg-vector-text-query.js'

/** What a search needs besides the collection and the query. */
export interface PgSearchParts {
  /** The store's options. */
  readonly settings: PgVectorSettings
  /** Picks exact or HNSW search and runs HNSW searches. */
  readonly index: PgHnswIndex
  /** Builds the (pruned) text query. */
  readonly text: PgTextQuery
}

/** One search's SQL pieces, shared by the vector and hybrid statements. */
export interface PreparedSearch {
  /** Bound values: `:tenant`, `:top`, `:q`, and the filter's. */
  readonly params: Record<string, SqlValue>
  /** The filter's condition on `t.metadata` (`TRUE` for none). */
  readonly condition: string
  /** The columns each match returns. */
  readonly columns: string
  /** The score expression for `t.embedding` against `:q`, higher is better. */
  readonly score: string
  /** Whether the vector side takes the HNSW path. */
  readonly ann: boolean
}

/**
 * Runs a validated query: text by `ts_rank_cd`, vector exactly or by HNSW, hybrid by RRF. A vector
 * search is one statement; text and hybrid searches are two, the look-up of the query's words and
 * the search.
 */
export async function searchCollection(
  collection: PgCollection,
  query: StoreQuery,
  parts: PgSearchParts,
): Promise<VectorMatch[]> {
  const params: Record<string, SqlValue> = { tenant: parts.settings.tenant, top: query.topK }
  const condition = filterCondition(query.filter, params)
  const columns = `t.id, t.metadata, t.text${query.includeVectors ? ', t.embedding' : ''}`
  const { table } = collection
  if (query.mode === 'text') {
    const text = await parts.text.prepare(collection, query.text ?? '')
    if (text.lexemes.length === 0) return []
    const list = textListSql({ table, condition, depth: ':top', scored: true, ...text }, params)
    const rows = await collection.db.all(
      `SELECT ${columns}, m.score::float8 AS score
       FROM (${list}) m JOIN ${table} t ON t.tenant_id = :tenant AND t.id = m.id
       ORDER BY m.score DESC, m.id`,
      params,
    )
    return rows.map(toMatch)
  }
  params.q = vectorParam(query.vector as Float32Array)
  const score = scoreSql(collection.metric)
  if (query.mode === 'hybrid') {
    const text = await parts.text.prepare(collection, query.text ?? '', parts.index.sizeLimit(collection))
    const ann = await parts.index.use(collection, text.size)
    return hybridSearch(collection, query, { params, condition, columns, score, ann }, text, parts)
  }
  const ann = await parts.index.use(collection)
  if (!ann) {
    const rows = await collection.db.all(
      `SELECT ${columns}, ${score} AS score FROM ${table} t
       WHERE t.tenant_id = :tenant AND ${condition} ORDER BY score DESC, t.id LIMIT :top`,
      params,
    )
    return rows.map(toMatch)
  }
  const rows = await collection.db.all(
    `SELECT ${columns}, ${score} AS score FROM ${table} t
     WHERE ${HNSW_SETTINGS} AND t.tenant_id = :tenant AND ${condition}
     ORDER BY ${distanceSql(collection)} LIMIT :top`,
    { ...params, ef: parts.index.efSearch(query.topK) },
  )
  // relaxed_order may hand back neighbours slightly out of order: sort by the exact score.
  return rows.map(toMatch).sort(byScoreThenId)
}

/** The score, higher is better, exactly as core's `similarity()` defines it; `:q` is typed by the operator, as in `distanceSql`. */
function scoreSql(metric: VectorMetric): string {
  if (metric === 'dot') return '(-(t.embedding <#> :q))'
  if (metric === 'euclidean') return '(-(t.embedding <-> :q))'
  // pgvector returns NaN for a zero vector; core scores it 0.
  return `coalesce(nullif(1 - (t.embedding <=> :q), 'NaN'::float8), 0)`
}
