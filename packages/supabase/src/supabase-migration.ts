import { type StorageAdapter, StorageError } from '@engram/core'
import { collectionsSql } from './migration-collections-sql.js'
import { filterSql } from './migration-filter-sql.js'
import { type MigrationNames, type MigrationSchemas, migrationNames } from './migration-names.js'
import { recordsSql } from './migration-records-sql.js'
import { searchSql } from './migration-search-sql.js'
import { tablesSql } from './migration-tables-sql.js'

/** The version of the SQL functions this package calls; `applySupabaseMigration` records it. */
export const SUPABASE_MIGRATION_VERSION = 1

/** The functions the API exposes, with their argument types (for GRANT and REVOKE). */
const API_FUNCTIONS = [
  'engram_version()',
  'engram_create_collection(text, integer, text, integer, integer)',
  'engram_describe_collection(text, boolean, uuid)',
  'engram_list_collections()',
  'engram_drop_collection(text, uuid)',
  'engram_upsert(text, json, uuid)',
  'engram_build_index(text, integer, boolean)',
  'engram_get(text, jsonb, uuid)',
  'engram_delete(text, jsonb, jsonb, uuid)',
  'engram_count(text, jsonb, uuid)',
  'engram_scan(text, text, integer, jsonb, uuid)',
  'engram_query(text, jsonb, text, text, integer, jsonb, double precision, boolean, integer, integer, integer, uuid)',
] as const

/** The helpers the API functions call as the caller (the definer functions are granted separately). */
const HELPERS = [
  'vector_schema()',
  'find_collection(text)',
  'records_table(bigint)',
  'owner_condition(uuid)',
  'filter_equals(text, jsonb)',
  'filter_node(jsonb, integer)',
  'filter_sql(jsonb)',
] as const

function grantsSql({ api, data }: MigrationNames): string {
  // Supabase grants EXECUTE on new functions in public to anon by default: take it back.
  const apiGrants = API_FUNCTIONS.map(
    (fn) => `REVOKE ALL ON FUNCTION ${api}.${fn} FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION ${api}.${fn} TO authenticated, service_role;`,
  )
  const helperGrants = HELPERS.map(
    (fn) => `REVOKE ALL ON FUNCTION ${data}.${fn} FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION ${data}.${fn} TO authenticated, service_role;`,
  )
  return [...apiGrants, ...helperGrants].join('\n')
}

/**
 * The migration as SQL text: paste it into the Supabase dashboard's SQL editor (or run it with
 * psql). It is idempotent, records its version in `<dataSchema>.migrations`, and ends by asking
 * PostgREST to reload its schema cache, so the functions are callable at once. A later version
 * that changes a function's parameters drops the old signature first, so PostgREST never sees
 * two candidates (PGRST203).
 *
 * @example
 * writeFileSync('engram.sql', supabaseMigrationSql({ schema: 'public', dataSchema: 'engram' }))
 */
export function supabaseMigrationSql(schemas: MigrationSchemas = {}): string {
  const names = migrationNames(schemas)
  return [
    `-- engram on Supabase: migration ${SUPABASE_MIGRATION_VERSION} (functions in ${names.apiName}, tables in ${names.dataName}).`,
    '-- Idempotent: running it again changes nothing. See docs/supabase.md.',
    tablesSql(names),
    filterSql(names),
    collectionsSql(names),
    recordsSql(names),
    searchSql(names),
    grantsSql(names),
    `INSERT INTO ${names.data}.migrations (version) VALUES (${SUPABASE_MIGRATION_VERSION}) ON CONFLICT (version) DO NOTHING;`,
    `NOTIFY pgrst, 'reload schema';`,
    '',
  ].join('\n')
}

/** The migration with the default schemas (functions in `public`, tables in `engram`), for the SQL editor. */
export const SUPABASE_MIGRATION_SQL: string = supabaseMigrationSql()

/** What `applySupabaseMigration` did. */
export interface SupabaseMigrationResult {
  /** The version now installed. */
  version: number
  /** Whether this call applied it (`false`: it was already there). */
  applied: boolean
}

/**
 * Installs engram's tables, row-level security policies and SQL functions in a Supabase
 * database, once: it runs in one transaction under an advisory lock, skips a version already
 * recorded, and records the one it applies. Connect as the `postgres` role (for example with
 * `createSupabaseAdapter`); the adapter stays open.
 *
 * @example
 * const db = createSupabaseAdapter({ connectionString: process.env.SUPABASE_DB_URL, ca })
 * await applySupabaseMigration(db)
 */
export async function applySupabaseMigration(
  adapter: StorageAdapter,
  schemas: MigrationSchemas = {},
): Promise<SupabaseMigrationResult> {
  if (typeof adapter !== 'object' || adapter === null || adapter.dialect !== 'postgres') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'applySupabaseMigration needs a Postgres adapter, for example createSupabaseAdapter({ connectionString })',
    )
  }
  const names = migrationNames(schemas)
  const sql = supabaseMigrationSql(schemas)
  return adapter.transaction(async (tx) => {
    await tx.get('SELECT pg_advisory_xact_lock(hashtext(?)) AS locked', [`engram.migrate.${names.dataName}`])
    const log = await tx.get<{ present: boolean }>('SELECT to_regclass(?) IS NOT NULL AS present', [
      `${names.data}.migrations`,
    ])
    if (log?.present === true) {
      const row = await tx.get<{ applied: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM ${names.data}.migrations WHERE version = ?) AS applied`,
        [SUPABASE_MIGRATION_VERSION],
      )
      if (row?.applied === true) return { version: SUPABASE_MIGRATION_VERSION, applied: false }
    }
    await tx.exec(sql)
    return { version: SUPABASE_MIGRATION_VERSION, applied: true }
  })
}
