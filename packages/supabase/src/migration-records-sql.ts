import type { MigrationNames } from './migration-names.js'

/** A record as JSON: id, vector, and metadata and text when present. */
const RECORD_JSON = `pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(''id'', r.id, ''vector'', r.embedding::text::jsonb, ''metadata'', r.metadata, ''text'', r.text))`

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
CREATE OR REPLACE FUNCTION ${api}.engram_upsert(
  collection text DEFAULT NULL,
  records jsonb DEFAULT '[]',
  owner uuid DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  -- New rows belong to the named owner, or to the caller; the service role's own rows to nobody.
  writer uuid := coalesce(owner, auth.uid());
  -- Without an owner the service role works on every row: a replaced record keeps its owner.
  everyone boolean := owner IS NULL AND auth.uid() IS NULL;
  bad record;
  wanted integer;
  written integer;
  reason text;
BEGIN
  PERFORM ${data}.owner_condition(owner); -- refuses a signed-in user naming someone else
  IF pg_catalog.jsonb_typeof(records) IS DISTINCT FROM 'array' THEN
    ${invalid(`'engram: records must be an array of { id, vector, metadata?, text? }'`)};
  END IF;
  SELECT e.n, e.problem, e.size INTO bad FROM (
    SELECT r.n, pg_catalog.jsonb_array_length(CASE WHEN pg_catalog.jsonb_typeof(r.rec -> 'vector') = 'array' THEN r.rec -> 'vector' ELSE '[]' END) AS size,
      CASE
        WHEN pg_catalog.jsonb_typeof(r.rec) IS DISTINCT FROM 'object' THEN 'must be an object'
        WHEN pg_catalog.jsonb_typeof(r.rec -> 'id') IS DISTINCT FROM 'string'
          OR pg_catalog.length(r.rec ->> 'id') NOT BETWEEN 1 AND 512 THEN 'needs an id: a string of 1 to 512 characters'
        WHEN pg_catalog.jsonb_typeof(r.rec -> 'vector') IS DISTINCT FROM 'array' THEN 'needs a vector: an array of numbers'
        WHEN pg_catalog.jsonb_array_length(r.rec -> 'vector') <> coll.dimension THEN 'dimension'
        WHEN coalesce(pg_catalog.jsonb_typeof(r.rec -> 'metadata'), 'null') NOT IN ('object', 'null') THEN 'has metadata that is not an object'
        WHEN coalesce(pg_catalog.jsonb_typeof(r.rec -> 'text'), 'null') NOT IN ('string', 'null') THEN 'has text that is not a string'
      END AS problem
    FROM pg_catalog.jsonb_array_elements(records) WITH ORDINALITY AS r(rec, n)
  ) e WHERE e.problem IS NOT NULL ORDER BY e.n LIMIT 1;
  IF bad.problem = 'dimension' THEN
    RAISE EXCEPTION USING ERRCODE = '22000', DETAIL = 'engram:DIMENSION_MISMATCH',
      MESSAGE = pg_catalog.format('records[%s].vector has %s dimensions; the collection has %s', bad.n - 1, bad.size, coll.dimension);
  ELSIF bad.problem IS NOT NULL THEN
    ${invalid(`pg_catalog.format('records[%s] %s', bad.n - 1, bad.problem)`)};
  END IF;
  BEGIN
    -- A repeated id keeps its last record, as core's validateRecords does.
    EXECUTE pg_catalog.format($sql$
      INSERT INTO %1$s AS t (id, owner_id, embedding, metadata, text)
      SELECT DISTINCT ON (r.rec ->> 'id') r.rec ->> 'id', $2, (r.rec -> 'vector')::text::%2$s.vector,
        nullif(r.rec -> 'metadata', 'null'::jsonb), r.rec ->> 'text'
      FROM jsonb_array_elements($1) WITH ORDINALITY AS r(rec, n)
      ORDER BY r.rec ->> 'id', r.n DESC
      ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, metadata = excluded.metadata, text = excluded.text
      WHERE $3 OR t.owner_id IS NOT DISTINCT FROM excluded.owner_id$sql$,
      ${data}.records_table(coll.id), ${data}.vector_schema())
    USING records, writer, everyone;
    GET DIAGNOSTICS written = ROW_COUNT;
  EXCEPTION WHEN insufficient_privilege THEN
    -- Row-level security refuses to update a row the caller cannot see: another user's id.
    GET STACKED DIAGNOSTICS reason = MESSAGE_TEXT;
    IF reason NOT LIKE '%row-level security%' THEN
      RAISE;
    END IF;
    written := -1;
  END;
  SELECT count(DISTINCT r.rec ->> 'id') INTO wanted FROM pg_catalog.jsonb_array_elements(records) AS r(rec);
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
) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  result jsonb;
BEGIN
  ${checkIds('ids')}
  EXECUTE pg_catalog.format('SELECT coalesce(jsonb_agg(${RECORD_JSON}), ''[]'') FROM (
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
) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  scope text := ${data}.owner_condition(owner);
  result jsonb;
BEGIN
  IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 10000 THEN
    ${invalid(`'engram: batch_size must be an integer from 1 to 10000'`)};
  END IF;
  EXECUTE pg_catalog.format('SELECT coalesce(jsonb_agg(${RECORD_JSON} ORDER BY r.id), ''[]'') FROM (
      SELECT t.id, t.embedding, t.metadata, t.text FROM %s t
      WHERE ($1::text IS NULL OR t.id > $1) AND %s AND %s ORDER BY t.id LIMIT %s) r',
    ${data}.records_table(coll.id), ${data}.filter_sql(filter), scope, batch_size)
  INTO result USING after_id;
  RETURN result;
END
$fn$;
`
}
