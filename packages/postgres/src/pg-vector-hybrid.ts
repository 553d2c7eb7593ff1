import type { SqlValue, StoreQuery, VectorMatch } from '@engram/core'
import { distanceSql, HNSW_SETTINGS } from './pg-vector-index.js'
import type { PgCollection } from './pg-vector-registry.js'
import { toMatch } from './pg-vector-rows.js'
import type { PgSearchParts, PreparedSearch } from './pg-vector-search.js'
import { textListSql } from './pg-vector-text-list.js'
import type { PreparedText } from './pg-vector-text-query.js'

/**
 * Hybrid search as Reciprocal Rank Fusion in one statement: the vector list and the text list,
 * a full outer join, and 1/(k + rank) summed. On the HNSW path the vector list is the
 * `max(hybridCandidates, topK)` nearest neighbours; the text list is always cut to that depth
 * before it is numbered (see `textListSql`), so only the best matches are sorted and joined.
 */
export async function hybridSearch(
  collection: PgCollection,
  query: StoreQuery,
  prepared: PreparedSearch,
  text: PreparedText,
  parts: PgSearchParts,
): Promise<VectorMatch[]> {
  const { columns, condition, score, ann } = prepared
  const { table } = collection
  const depth = Math.max(parts.settings.hybridCandidates, query.topK)
  const params: Record<string, SqlValue> = { ...prepared.params, k: query.rrfK, candidates: depth }
  if (ann) params.ef = parts.index.efSearch(query.topK)
  const list = textListSql({ table, condition, depth: ':candidates', scored: false, ...text }, params)
  const candidates = ann
    ? `(SELECT t.id, t.embedding FROM ${table} t
        WHERE ${HNSW_SETTINGS} AND t.tenant_id = :tenant AND ${condition}
        ORDER BY ${distanceSql(collection)} LIMIT :candidates)`
    : `(SELECT t.id, t.embedding FROM ${table} t WHERE t.tenant_id = :tenant AND ${condition})`
  const sql = `WITH vector_list AS (
      SELECT t.id, row_number() OVER (ORDER BY ${score} DESC, t.id) AS rank FROM ${candidates} t
    ), text_list AS (
      SELECT m.id, row_number() OVER (ORDER BY m.score DESC, m.id) AS rank FROM (${list}) m
    ), fused AS (
      SELECT coalesce(v.id, x.id) AS id,
        coalesce(1::float8 / (:k::float8 + v.rank), 0) + coalesce(1::float8 / (:k::float8 + x.rank), 0) AS score,
        least(v.rank, x.rank) AS best
      FROM vector_list v FULL OUTER JOIN text_list x ON v.id = x.id
    )
    SELECT ${columns}, f.score FROM fused f JOIN ${table} t ON t.tenant_id = :tenant AND t.id = f.id
    ORDER BY f.score DESC, f.best, f.id LIMIT :top`
  const rows = await collection.db.all(sql, params)
  return rows.map(toMatch)
}
