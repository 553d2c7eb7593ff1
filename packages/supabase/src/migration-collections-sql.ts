import type { MigrationNames } from './migration-names.js'

/**
 * The collection functions of the API. Every parameter has a name and a default, so PostgREST
 * finds the function from any subset of arguments (a missing one is never a PGRST202) and a
 * later migration can add parameters without breaking older clients.
 */
export function collectionsSql({ api, data, dataName }: MigrationNames): string {
  return `
CREATE OR REPLACE FUNCTION ${api}.engram_version() RETURNS integer
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT max(m.version) FROM ${data}.migrations m
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_create_collection(
  collection text DEFAULT NULL,
  dimension integer DEFAULT NULL,
  metric text DEFAULT 'cosine',
  m integer DEFAULT 16,
  ef_construction integer DEFAULT 128
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections;
BEGIN
  IF collection IS NULL OR collection OPERATOR(pg_catalog.!~) '^[A-Za-z][A-Za-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = pg_catalog.format('Invalid collection name %s: start with a letter, then use letters, digits, _ or - (at most 63)', coalesce(pg_catalog.to_json(collection)::text, 'null'));
  END IF;
  IF dimension IS NULL OR dimension NOT BETWEEN 1 AND 16000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = pg_catalog.format('dimension must be an integer from 1 to 16000, got %s', coalesce(dimension::text, 'none'));
  END IF;
  IF metric IS NULL OR metric NOT IN ('cosine', 'dot', 'euclidean') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = pg_catalog.format('metric must be one of cosine, dot, euclidean, got %s', coalesce(metric, 'none'));
  END IF;
  IF m IS NULL OR m NOT BETWEEN 2 AND 100 OR ef_construction IS NULL OR ef_construction NOT BETWEEN 4 AND 1000
    OR ef_construction < 2 * m THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = 'm must be from 2 to 100 and ef_construction from 4 to 1000 and at least twice m';
  END IF;
  SELECT * INTO coll FROM ${data}.collections c WHERE c.name = collection;
  IF NOT FOUND THEN
    IF NOT pg_catalog.has_function_privilege('${data}.create_collection(text, integer, text, integer, integer)', 'EXECUTE') THEN
      RAISE EXCEPTION USING ERRCODE = '42501', DETAIL = 'engram:UNSUPPORTED',
        MESSAGE = pg_catalog.format('Collection "%s" does not exist, and only the service role creates collections: create it from a server with the service role key (or in the SQL editor), then use it here', collection);
    END IF;
    coll := ${data}.create_collection(collection, dimension, metric, m, ef_construction);
  END IF;
  IF coll.dimension <> dimension OR coll.metric <> metric THEN
    RAISE EXCEPTION USING ERRCODE = '22000', DETAIL = 'engram:DIMENSION_MISMATCH',
      MESSAGE = pg_catalog.format('Collection "%s" exists with dimension %s (%s); cannot recreate it with dimension %s (%s)',
        collection, coll.dimension, coll.metric, dimension, metric);
  END IF;
  RETURN pg_catalog.jsonb_build_object('name', coll.name, 'dimension', coll.dimension, 'metric', coll.metric);
END
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_describe_collection(
  collection text DEFAULT NULL,
  include_count boolean DEFAULT true,
  owner uuid DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections;
  scope text := ${data}.owner_condition(owner);
  n bigint;
  described jsonb;
BEGIN
  SELECT * INTO coll FROM ${data}.collections c WHERE c.name = collection;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  described := pg_catalog.jsonb_build_object('name', coll.name, 'dimension', coll.dimension, 'metric', coll.metric);
  IF include_count THEN
    EXECUTE pg_catalog.format('SELECT count(*) FROM %s t WHERE %s', ${data}.records_table(coll.id), scope) INTO n;
    described := described || pg_catalog.jsonb_build_object('count', n);
  END IF;
  RETURN described;
END
$fn$;

CREATE OR REPLACE FUNCTION ${api}.engram_list_collections() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $fn$
  SELECT coalesce(pg_catalog.jsonb_agg(c.name ORDER BY c.name COLLATE "C"), '[]'::jsonb) FROM ${data}.collections c
$fn$;

-- The service role drops the collection; a signed-in user (or a tenant-scoped store) removes
-- only its own records from it, because a collection is shared by every user.
CREATE OR REPLACE FUNCTION ${api}.engram_drop_collection(
  collection text DEFAULT NULL,
  owner uuid DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections;
  scope text := ${data}.owner_condition(owner);
BEGIN
  SELECT * INTO coll FROM ${data}.collections c WHERE c.name = collection;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF owner IS NULL AND pg_catalog.has_function_privilege('${data}.drop_collection(text)', 'EXECUTE') THEN
    PERFORM ${data}.drop_collection(collection);
  ELSE
    EXECUTE pg_catalog.format('DELETE FROM %s t WHERE %s', ${data}.records_table(coll.id), scope);
  END IF;
END
$fn$;

-- Builds the collection's HNSW index once it holds min_records (default: now). Without the
-- privilege it is UNSUPPORTED, or with if_allowed just false. Returns whether the index exists.
-- The statement_timeout is the function's own, which PostgREST applies to the whole call.
CREATE OR REPLACE FUNCTION ${api}.engram_build_index(
  collection text DEFAULT NULL,
  min_records integer DEFAULT 0,
  if_allowed boolean DEFAULT false
) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = '' SET statement_timeout = '10min' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(collection);
  stored bigint;
BEGIN
  IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', '${dataName}', 'records_' || coll.id || '_hnsw')) IS NOT NULL THEN
    RETURN true;
  END IF;
  IF coll.dimension > 2000 THEN
    RETURN false;
  END IF;
  IF NOT pg_catalog.has_function_privilege('${data}.build_index(text)', 'EXECUTE') THEN
    IF if_allowed THEN
      RETURN false;
    END IF;
    RAISE EXCEPTION USING ERRCODE = '42501', DETAIL = 'engram:UNSUPPORTED',
      MESSAGE = 'Only the service role builds indexes: call buildIndex from a server with the service role key';
  END IF;
  -- Counting stops at the threshold, so the check costs at most min_records index entries.
  EXECUTE pg_catalog.format('SELECT count(*) FROM (SELECT 1 FROM %s t LIMIT %s) s',
    ${data}.records_table(coll.id), greatest(coalesce(min_records, 0), 0)) INTO stored;
  IF stored < coalesce(min_records, 0) THEN
    RETURN false;
  END IF;
  PERFORM ${data}.build_index(collection);
  RETURN true;
END
$fn$;
`
}
