import type { MigrationNames } from './migration-names.js'

/**
 * A record as JSON: id, vector, metadata and text (`null` when absent). Built and returned as
 * `json`, never `jsonb`: parsing thousands of vector components into jsonb numerics, or
 * stripping nulls, costs several times more than the query itself.
 */
const RECORD_JSON = `pg_catalog.json_build_object(''id'', r.id, ''vector'', r.embedding::text::json, ''metadata'', r.metadata, ''text'', r.text)`

/**
 * Upsert, get, delete, count and scan. Row-level security does the scoping for signed-in
 * users: every statement runs as the caller, so a user's `SELECT`, `DELETE` and `count(*)`
 * only ever see rows whose `owner_id` is their `auth.uid()`.
 */
export function recordsSql({ api, data }: MigrationNames): string {
  const invalid = (message: string) =>
    `RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT', MESSAGE = ${message}`
  const checkIds = (argument: string) => `IF pg_catalog.jsonb_typeof(${argument}) IS DISTINCT FROM 'array'
    OR pg_catalog.jsonb_path_exists(${argument}, 'strict $[*] ? (@.type() != "string")') THEN
    ${invalid(`'engram: ids must be an array of strings'`)};
  END IF;`
  return `
-- records is json, not jsonb: vectors go straight from their text to pgvector, never through numeric.
CREATE OR REPLACE FUNCTION ${api}.engram_upsert(
  collection text DEFAULT NULL,
  records json DEFAULT '[]',
  owner uuid DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  -- New rows belong to the named owner, or to the caller; the service role's own rows to nobody.
  writer uuid := coalesce(owner, auth.uid());
  -- Without an owner the service role works on every row: a replaced record keeps its owner.
  everyone boolean := owner IS NULL AND auth.uid() IS NULL;
  bad_n bigint;
  bad_problem text;
  bad_size integer;
  wanted integer;
  written integer;
  reason text;
BEGIN
  PERFORM ${data}.owner_condition(owner); -- refuses a signed-in user naming someone else
  IF pg_catalog.json_typeof(records) IS DISTINCT FROM 'array' THEN
    ${invalid(`'engram: records must be an array of { id, vector, metadata?, text? }'`)};
  END IF;
  BEGIN
    -- One statement reads the array once: each record is checked, and only if every one passes
    -- are they written (a repeated id keeps its last record, as core's validateRecords does).
    EXECUTE pg_catalog.format($sql$
      WITH input AS MATERIALIZED (
        SELECT r.n, r.rec, r.rec ->> 'id' AS id, r.rec -> 'vector' AS vector,
          CASE
            WHEN json_typeof(r.rec) IS DISTINCT FROM 'object' THEN 'must be an object'
            WHEN json_typeof(r.rec -> 'id') IS DISTINCT FROM 'string'
              OR length(r.rec ->> 'id') NOT BETWEEN 1 AND 512 THEN 'needs an id: a string of 1 to 512 characters'
            WHEN json_typeof(r.rec -> 'vector') IS DISTINCT FROM 'array' THEN 'needs a vector: an array of numbers'
            WHEN json_array_length(r.rec -> 'vector') <> %3$s THEN 'dimension'
            WHEN coalesce(json_typeof(r.rec -> 'metadata'), 'null') NOT IN ('object', 'null') THEN 'has metadata that is not an object'
            WHEN coalesce(json_typeof(r.rec -> 'text'), 'null') NOT IN ('string', 'null') THEN 'has text that is not a string'
          END AS problem
        FROM json_array_elements($1) WITH ORDINALITY AS r(rec, n)
      ), bad AS (
        SELECT i.n, i.problem, CASE WHEN json_typeof(i.vector) = 'array' THEN json_array_length(i.vector) END AS size
        FROM input i WHERE i.problem IS NOT NULL ORDER BY i.n LIMIT 1
      ), written AS (
        INSERT INTO %1$s AS t (id, owner_id, embedding, metadata, text)
        SELECT DISTINCT ON (i.id) i.id, $2, i.vector::text::%2$s.vector,
          CASE WHEN json_typeof(i.rec -> 'metadata') = 'object' THEN (i.rec -> 'metadata')::jsonb END, i.rec ->> 'text'
        FROM input i WHERE NOT EXISTS (SELECT 1 FROM bad)
        ORDER BY i.id, i.n DESC
        ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata, text = excluded.text
        WHERE $3 OR t.owner_id IS NOT DISTINCT FROM excluded.owner_id
        RETURNING 1
      )
      SELECT b.n, b.problem, b.size, (SELECT count(DISTINCT i.id) FROM input i)::integer, (SELECT count(*) FROM written)::integer
      FROM (SELECT 1) AS one LEFT JOIN bad b ON true$sql$,
      ${data}.records_table(coll.id), ${data}.vector_schema(), coll.dimension)
    INTO bad_n, bad_problem, bad_size, wanted, written USING records, writer, everyone;
  EXCEPTION WHEN insufficient_privilege THEN
    -- Row-level security refuses to update a row the caller cannot see: another user's id.
    GET STACKED DIAGNOSTICS reason = MESSAGE_TEXT;
    IF reason NOT LIKE '%row-level security%' THEN
      RAISE;
    END IF;
    wanted := 1;
    written := -1;
  END;
  IF bad_problem = 'dimension' THEN
    RAISE EXCEPTION USING ERRCODE = '22000', DETAIL = 'engram:DIMENSION_MISMATCH',
      MESSAGE = pg_catalog.format('records[%s].vector has %s dimensions; the collection has %s', bad_n - 1, bad_size, coll.dimension);
  ELSIF bad_problem IS NOT NULL THEN
    ${invalid(`pg_catalog.format('records[%s] %s', bad_n - 1, bad_problem)`)};
  END IF;
  IF written < wanted THEN
    RAISE EXCEPTION USING ERRCODE = '23505', DETAIL = 'engram:UNIQUE_VIOLATION',
      MESSAGE = pg_catalog.format('Some record ids in this batch belong to another user of collection "%s", so nothing was written; ids are unique per collection across users, so use others (random UUIDs never collide)', collection);
  END IF;
  RETURN written;
END
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_get(
  collection text DEFAULT NULL,
  ids jsonb DEFAULT '[]',
  owner uuid DEFAULT NULL
) RETURNS json
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  result json;
BEGIN
  ${checkIds('ids')}
  EXECUTE pg_catalog.format('SELECT coalesce(json_agg(${RECORD_JSON}), ''[]'') FROM (
      SELECT t.id, t.embedding, t.metadata, t.text FROM %s t
      WHERE t.id = ANY (ARRAY(SELECT jsonb_array_elements_text($1))) AND %s) r',
    ${data}.records_table(coll.id), scope)
  INTO result USING ids;
  RETURN result;
END
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_delete(
  collection text DEFAULT NULL,
  ids jsonb DEFAULT NULL,
  filter jsonb DEFAULT NULL,
  owner uuid DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  removed integer;
BEGIN
  IF (ids IS NULL) = (filter IS NULL) THEN
    ${invalid(`'engram: engram_delete takes exactly one of ids or filter'`)};
  END IF;
  IF ids IS NOT NULL THEN
    ${checkIds('ids')}
    EXECUTE pg_catalog.format('DELETE FROM %s t WHERE t.id = ANY (ARRAY(SELECT jsonb_array_elements_text($1))) AND %s',
      ${data}.records_table(coll.id), scope) USING ids;
  ELSE
    EXECUTE pg_catalog.format('DELETE FROM %s t WHERE %s AND %s',
      ${data}.records_table(coll.id), ${data}.filter_sql(filter), scope);
  END IF;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_count(
  collection text DEFAULT NULL,
  filter jsonb DEFAULT NULL,
  owner uuid DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  n bigint;
BEGIN
  EXECUTE pg_catalog.format('SELECT count(*) FROM %s t WHERE %s AND %s',
    ${data}.records_table(coll.id), ${data}.filter_sql(filter), scope) INTO n;
  RETURN n;
END
$fn$;

-- One page of a keyset scan: the records after after_id, by id (code point order).
CREATE OR REPLACE FUNCTION ${api}.engram_scan(
  collection text DEFAULT NULL,
  after_id text DEFAULT NULL,
  batch_size integer DEFAULT 100,
  filter jsonb DEFAULT NULL,
  owner uuid DEFAULT NULL
) RETURNS json
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  result json;
BEGIN
  IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 10000 THEN
    ${invalid(`'engram: batch_size must be an integer from 1 to 10000'`)};
  END IF;
  EXECUTE pg_catalog.format('SELECT coalesce(json_agg(${RECORD_JSON} ORDER BY r.id), ''[]'') FROM (
      SELECT t.id, t.embedding, t.metadata, t.text FROM %s t
      WHERE ($1::text IS NULL OR t.id > $1) AND %s AND %s ORDER BY t.id LIMIT %s) r',
    ${data}.records_table(coll.id), ${data}.filter_sql(filter), scope, batch_size)
  INTO result USING after_id;
  RETURN result;
END
$fn$;
`
}
