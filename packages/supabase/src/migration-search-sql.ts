import type { MigrationNames } from './migration-names.js'

/** A match as JSON: id, score, metadata, text and vector (`null` when absent; json, see engram_get). */
const MATCH_JSON = `pg_catalog.json_build_object(''id'', m.id, ''score'', m.score, ''metadata'', m.metadata, ''text'', m.text, ''vector'', m.embedding::text::json)`

/**
 * `engram_query`: vector, text and hybrid search in one statement each. Vector search is exact
 * until the caller can see `exact_below` records and the index is built, then it takes the HNSW index
 * (with pgvector's iterative scan, so filtered and row-level-secured queries still fill top_k)
 * and re-sorts the neighbours by their exact score. Text search ranks `ts_rank_cd` over the
 * words of the query (any of them may match). Hybrid fuses both ranked lists with Reciprocal
 * Rank Fusion, `1 / (rrf_k + rank)` summed, in SQL.
 */
export function searchSql({ api, data, dataName }: MigrationNames): string {
  const invalid = (message: string) =>
    `RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT', MESSAGE = ${message}`
  return `
CREATE OR REPLACE FUNCTION ${api}.engram_query(
  collection text DEFAULT NULL,
  query_vector jsonb DEFAULT NULL,
  query_text text DEFAULT NULL,
  mode text DEFAULT NULL,
  top_k integer DEFAULT 10,
  filter jsonb DEFAULT NULL,
  rrf_k double precision DEFAULT 60,
  include_vectors boolean DEFAULT false,
  exact_below integer DEFAULT 10000,
  ef_search integer DEFAULT 64,
  hybrid_candidates integer DEFAULT 200,
  owner uuid DEFAULT NULL
) RETURNS json
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  tbl text := ${data}.records_table(coll.id);
  vs text := ${data}.vector_schema();
  scope text := ${data}.owner_condition(owner);
  chosen text := coalesce(mode, CASE
    WHEN query_vector IS NOT NULL AND query_text IS NOT NULL THEN 'hybrid'
    WHEN query_text IS NOT NULL THEN 'text' ELSE 'vector' END);
  cond text;
  cols text := 't.id, t.metadata, t.text' || CASE WHEN include_vectors THEN ', t.embedding' ELSE ', NULL::text AS embedding' END;
  score text;
  distance text;
  -- Every word of the text, any of which may match.
  tsq text := '(SELECT replace(plainto_tsquery(''simple''::regconfig, $2)::text, '' & '', '' | '')::tsquery AS query)';
  candidates integer := greatest(coalesce(hybrid_candidates, 200), coalesce(top_k, 10));
  ann boolean := false;
  visible bigint;
  vector_list text;
  text_list text;
  ranked text;
  -- The zero vectors a cosine HNSW index leaves out (they score 0), or NULL for other metrics.
  zero text;
  result json;
BEGIN
  IF chosen NOT IN ('vector', 'text', 'hybrid') THEN
    ${invalid(`pg_catalog.format('engram: mode must be vector, text or hybrid, got %s', chosen)`)};
  END IF;
  IF top_k IS NULL OR top_k NOT BETWEEN 1 AND 10000 THEN
    ${invalid(`'engram: top_k must be an integer from 1 to 10000'`)};
  END IF;
  IF rrf_k IS NULL OR NOT (rrf_k >= 0 AND rrf_k < 'Infinity'::float8) THEN
    ${invalid(`'engram: rrf_k must be a non-negative number'`)};
  END IF;
  IF exact_below IS NULL OR exact_below < 0 OR ef_search IS NULL OR ef_search NOT BETWEEN 1 AND 1000
    OR hybrid_candidates IS NULL OR hybrid_candidates < 1 THEN
    ${invalid(`'engram: exact_below must be at least 0, ef_search from 1 to 1000 and hybrid_candidates at least 1'`)};
  END IF;
  cond := ${data}.filter_sql(filter) || ' AND ' || scope;
  IF chosen <> 'vector' AND (query_text IS NULL OR btrim(query_text) = '') THEN
    ${invalid(`pg_catalog.format('engram: a %s query needs non-blank query_text', chosen)`)};
  END IF;
  IF chosen <> 'text' THEN
    IF pg_catalog.jsonb_typeof(query_vector) IS DISTINCT FROM 'array' THEN
      ${invalid(`pg_catalog.format('engram: a %s query needs query_vector, an array of numbers', chosen)`)};
    END IF;
    IF pg_catalog.jsonb_array_length(query_vector) <> coll.dimension THEN
      RAISE EXCEPTION USING ERRCODE = '22000', DETAIL = 'engram:DIMENSION_MISMATCH',
        MESSAGE = pg_catalog.format('query vector has %s dimensions; the collection has %s', pg_catalog.jsonb_array_length(query_vector), coll.dimension);
    END IF;
    -- Scores as core's similarity() defines them, higher is better; pgvector gives NaN for a zero vector, core 0.
    score := CASE coll.metric
      WHEN 'cosine' THEN pg_catalog.format('coalesce(nullif(1 - (t.embedding OPERATOR(%1$s.<=>) $1::%1$s.vector), ''NaN''::float8), 0)', vs)
      WHEN 'dot' THEN pg_catalog.format('(-(t.embedding OPERATOR(%1$s.<#>) $1::%1$s.vector))', vs)
      ELSE pg_catalog.format('(-(t.embedding OPERATOR(%1$s.<->) $1::%1$s.vector))', vs) END;
    distance := pg_catalog.format('t.embedding OPERATOR(%1$s.%2$s) $1::%1$s.vector', vs,
      CASE coll.metric WHEN 'cosine' THEN '<=>' WHEN 'dot' THEN '<#>' ELSE '<->' END);
    zero := CASE WHEN coll.metric = 'cosine' THEN pg_catalog.format('%s.vector_norm(t.embedding) = 0', vs) END;
    -- Counting stops at the threshold, so deciding costs at most exact_below index entries.
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', '${dataName}', 'records_' || coll.id || '_hnsw')) IS NOT NULL THEN
      EXECUTE pg_catalog.format('SELECT count(*) FROM (SELECT 1 FROM %s t WHERE %s LIMIT %s) s', tbl, scope, exact_below) INTO visible;
      ann := visible >= exact_below;
    END IF;
    IF ann THEN
      PERFORM pg_catalog.set_config('hnsw.ef_search', least(1000, greatest(ef_search, top_k))::text, true);
      BEGIN
        PERFORM pg_catalog.set_config('hnsw.iterative_scan', 'relaxed_order', true);
      EXCEPTION WHEN OTHERS THEN
        NULL; -- pgvector before 0.8 has no iterative scan; filtered queries may then return fewer rows
      END;
    END IF;
  END IF;
  IF chosen = 'vector' THEN
    ranked := pg_catalog.format('SELECT %1$s, %2$s AS score, 0 AS best FROM %3$s t WHERE %4$s ORDER BY %5$s LIMIT %6$s',
      cols, score, tbl, cond, CASE WHEN ann THEN distance ELSE 'score DESC, t.id' END, top_k);
    IF ann AND zero IS NOT NULL THEN
      ranked := pg_catalog.format('SELECT * FROM ((%1$s) UNION ALL (SELECT %2$s, 0::float8 AS score, 0 AS best FROM %3$s t
          WHERE %4$s AND %5$s LIMIT %6$s)) u ORDER BY u.score DESC, u.id LIMIT %6$s', ranked, cols, tbl, zero, cond, top_k);
    END IF;
  ELSIF chosen = 'text' THEN
    ranked := pg_catalog.format('SELECT %1$s, ts_rank_cd(t.tsv, q.query)::float8 AS score, 0 AS best FROM %2$s t, %3$s q
      WHERE t.tsv @@ q.query AND %4$s ORDER BY score DESC, t.id LIMIT %5$s', cols, tbl, tsq, cond, top_k);
  ELSE
    vector_list := CASE WHEN ann THEN
      pg_catalog.format('SELECT a.id, row_number() OVER (ORDER BY a.score DESC, a.id) AS rank FROM (
          (SELECT t.id, %1$s AS score FROM %2$s t WHERE %3$s ORDER BY %4$s LIMIT %5$s)
          UNION ALL (SELECT t.id, 0::float8 AS score FROM %2$s t WHERE %6$s AND %3$s LIMIT %5$s)) a',
        score, tbl, cond, distance, candidates, coalesce(zero, 'FALSE'))
    ELSE
      pg_catalog.format('SELECT t.id, row_number() OVER (ORDER BY %1$s DESC, t.id) AS rank FROM %2$s t WHERE %3$s', score, tbl, cond)
    END;
    -- The text list is cut to the candidate depth before it is numbered, so only the best are sorted and joined.
    text_list := pg_catalog.format('SELECT x.id, row_number() OVER (ORDER BY x.score DESC, x.id) AS rank FROM (
        SELECT t.id, ts_rank_cd(t.tsv, q.query) AS score FROM %1$s t, %2$s q
        WHERE t.tsv @@ q.query AND %3$s ORDER BY score DESC, t.id LIMIT %4$s) x', tbl, tsq, cond, candidates);
    ranked := pg_catalog.format('WITH vector_list AS (%1$s), text_list AS (%2$s), fused AS (
        SELECT coalesce(v.id, x.id) AS id,
          coalesce(1::float8 / ($3 + v.rank), 0) + coalesce(1::float8 / ($3 + x.rank), 0) AS score,
          least(v.rank, x.rank) AS best
        FROM vector_list v FULL OUTER JOIN text_list x ON v.id = x.id)
      SELECT %3$s, f.score, f.best FROM fused f JOIN %4$s t ON t.id = f.id
      ORDER BY f.score DESC, f.best, f.id LIMIT %5$s', vector_list, text_list, cols, tbl, top_k);
  END IF;
  EXECUTE pg_catalog.format('SELECT coalesce(json_agg(${MATCH_JSON} ORDER BY m.score DESC, m.best, m.id), ''[]'') FROM (%s) m', ranked)
  INTO result USING query_vector::text, query_text, rrf_k;
  RETURN result;
END
$fn$;
`
}
