import type { MigrationNames } from './migration-names.js'

/**
 * The registry, the migration log, the helpers every function calls, and the SECURITY DEFINER
 * functions that create and drop a collection's table and build its HNSW index. Each collection
 * gets a table of its own (`records_<id>`), so its column has a fixed dimension, its index covers
 * only its rows, and dropping it is instant. Only the definer functions run DDL; EXECUTE on them
 * is granted to `service_role` alone, so signed-in users can never create, drop or index tables.
 */
export function tablesSql({ api, data, dataName }: MigrationNames): string {
  return `
DO $engram$
BEGIN
  IF pg_catalog.to_regprocedure('auth.uid()') IS NULL THEN
    RAISE EXCEPTION 'engram: this database has no auth.uid(); the migration is for a Supabase project, whose auth schema provides it';
  END IF;
  IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')) < 3 THEN
    RAISE EXCEPTION 'engram: this database lacks the roles anon, authenticated and service_role; the migration is for a Supabase project';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'vector') THEN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'extensions') THEN
      CREATE EXTENSION vector WITH SCHEMA extensions;
    ELSE
      CREATE EXTENSION vector;
    END IF;
  END IF;
END
$engram$;

-- public exists on Supabase with these grants; another API schema also needs exposing in the API settings.
CREATE SCHEMA IF NOT EXISTS ${api};
GRANT USAGE ON SCHEMA ${api} TO anon, authenticated, service_role;
CREATE SCHEMA IF NOT EXISTS ${data};

CREATE TABLE IF NOT EXISTS ${data}.migrations (
  version integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ${data}.collections (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
  metric text NOT NULL CHECK (metric IN ('cosine', 'dot', 'euclidean')),
  m integer NOT NULL,
  ef_construction integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Signed-in users see which collections exist (they are shared); only the definer functions write.
ALTER TABLE ${data}.collections ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${data}.migrations ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS engram_read ON ${data}.collections;
CREATE POLICY engram_read ON ${data}.collections FOR SELECT TO authenticated USING (true);
DROP POLICY IF EXISTS engram_read ON ${data}.migrations;
CREATE POLICY engram_read ON ${data}.migrations FOR SELECT TO authenticated USING (true);
GRANT USAGE ON SCHEMA ${data} TO authenticated, service_role;
GRANT SELECT ON ${data}.collections, ${data}.migrations TO authenticated, service_role;

-- The schema pgvector lives in (public on a plain server, extensions on Supabase), quoted.
CREATE OR REPLACE FUNCTION ${data}.vector_schema() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll text;
BEGIN
  SELECT pg_catalog.quote_ident(n.nspname) INTO coll
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'vector';
  IF coll IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42704', DETAIL = 'engram:DRIVER_NOT_INSTALLED',
      MESSAGE = 'pgvector is not installed in this database: enable the vector extension (Database, Extensions) and run the engram migration again';
  END IF;
  RETURN coll;
END
$fn$;

-- The collection named p_name, or NOT_FOUND.
CREATE OR REPLACE FUNCTION ${data}.find_collection(p_name text) RETURNS ${data}.collections
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections;
BEGIN
  IF p_name IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = 'engram: the collection argument is required';
  END IF;
  SELECT * INTO coll FROM ${data}.collections c WHERE c.name = p_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', DETAIL = 'engram:NOT_FOUND',
      MESSAGE = pg_catalog.format('Collection "%s" does not exist; create it with createCollection()', p_name);
  END IF;
  RETURN coll;
END
$fn$;

-- The quoted, schema-qualified table of a collection.
CREATE OR REPLACE FUNCTION ${data}.records_table(p_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $fn$
  SELECT pg_catalog.format('%I.%I', '${dataName}', 'records_' || p_id)
$fn$;

-- The condition that scopes rows to one owner; TRUE when none is named. A signed-in user may
-- name only themselves: row-level security would hide everything else anyway, so say so.
CREATE OR REPLACE FUNCTION ${data}.owner_condition(p_owner uuid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $fn$
BEGIN
  IF p_owner IS NULL THEN
    RETURN 'TRUE';
  END IF;
  IF auth.uid() IS NOT NULL AND auth.uid() <> p_owner THEN
    RAISE EXCEPTION USING ERRCODE = '22023', DETAIL = 'engram:INVALID_ARGUMENT',
      MESSAGE = 'engram: a signed-in user reads and writes only their own records; open the store without tenant, or use the service role key';
  END IF;
  RETURN pg_catalog.format('t.owner_id = %L::uuid', p_owner);
END
$fn$;

CREATE OR REPLACE FUNCTION ${data}.create_collection(
  p_name text, p_dimension integer, p_metric text, p_m integer, p_ef_construction integer
) RETURNS ${data}.collections
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections;
  vs text := ${data}.vector_schema();
  tbl text;
BEGIN
  -- Two stores creating the same collection at once: the second waits, then finds the first's.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('engram.${dataName}.' || p_name));
  SELECT * INTO coll FROM ${data}.collections c WHERE c.name = p_name;
  IF FOUND THEN
    RETURN coll;
  END IF;
  INSERT INTO ${data}.collections (name, dimension, metric, m, ef_construction)
  VALUES (p_name, p_dimension, p_metric, p_m, p_ef_construction) RETURNING * INTO coll;
  tbl := ${data}.records_table(coll.id);
  EXECUTE pg_catalog.format($ddl$CREATE TABLE %1$s (
      id text COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 512),
      owner_id uuid,
      embedding %2$s.vector(%3$s) NOT NULL,
      metadata jsonb CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
      text text,
      tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(text, ''))) STORED
    )$ddl$, tbl, vs, coll.dimension);
  EXECUTE pg_catalog.format('CREATE INDEX ON %s (owner_id, id)', tbl);
  EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (tsv)', tbl);
  EXECUTE pg_catalog.format('CREATE INDEX ON %s USING gin (metadata jsonb_path_ops)', tbl);
  EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE pg_catalog.format(
    'CREATE POLICY engram_owner ON %s FOR ALL TO authenticated USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()))',
    tbl);
  EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO authenticated, service_role', tbl);
  RETURN coll;
END
$fn$;

-- The HNSW index, built once the rows are in: many times faster than keeping it up to date on
-- every insert. Idempotent; returns whether it built anything. pgvector indexes vector columns
-- of up to 2,000 dimensions; larger ones are always searched exactly.
CREATE OR REPLACE FUNCTION ${data}.build_index(p_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  coll ${data}.collections := ${data}.find_collection(p_name);
  vs text := ${data}.vector_schema();
  tbl text := ${data}.records_table(coll.id);
  ops text := CASE coll.metric WHEN 'cosine' THEN 'vector_cosine_ops' WHEN 'dot' THEN 'vector_ip_ops' ELSE 'vector_l2_ops' END;
BEGIN
  IF coll.dimension > 2000 THEN
    RETURN false;
  END IF;
  -- Concurrent builders queue here; the later ones find the index and skip.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('engram.${dataName}.index.' || p_name));
  IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', '${dataName}', 'records_' || coll.id || '_hnsw')) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_catalog.set_config('maintenance_work_mem', '128MB', true);
  EXECUTE pg_catalog.format('CREATE INDEX %I ON %s USING hnsw (embedding %s.%I) WITH (m = %s, ef_construction = %s)',
    'records_' || coll.id || '_hnsw', tbl, vs, ops, coll.m, coll.ef_construction);
  -- A cosine HNSW index leaves out zero vectors; searches add them back from this small index.
  IF coll.metric = 'cosine' THEN
    EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (id) WHERE %s.vector_norm(embedding) = 0',
      'records_' || coll.id || '_zero', tbl, vs);
  END IF;
  RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION ${data}.drop_collection(p_name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
DECLARE
  gone bigint;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('engram.${dataName}.' || p_name));
  DELETE FROM ${data}.collections c WHERE c.name = p_name RETURNING c.id INTO gone;
  IF gone IS NULL THEN
    RETURN false;
  END IF;
  EXECUTE pg_catalog.format('DROP TABLE IF EXISTS %s', ${data}.records_table(gone));
  RETURN true;
END
$fn$;

REVOKE ALL ON FUNCTION ${data}.create_collection(text, integer, text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${data}.drop_collection(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${data}.build_index(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${data}.create_collection(text, integer, text, integer, integer) TO service_role;
GRANT EXECUTE ON FUNCTION ${data}.drop_collection(text) TO service_role;
GRANT EXECUTE ON FUNCTION ${data}.build_index(text) TO service_role;
`
}
