import { installSupabasePlatform } from '@engram/test-servers/postgrest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  applySupabaseMigration,
  createSupabaseAdapter,
  SUPABASE_MIGRATION_SQL,
  SUPABASE_MIGRATION_VERSION,
  type SupabaseAdapter,
  supabaseMigrationSql,
} from '../src/index.js'
import { admin, freshName, PG_URL, requireDatabase } from './supabase-test-env.js'

const created: string[] = []
let db: SupabaseAdapter

function schemas(): { schema: string; dataSchema: string } {
  const names = { schema: freshName('engram_mig_api'), dataSchema: freshName('engram_mig_data') }
  created.push(names.schema, names.dataSchema)
  return names
}

beforeAll(async () => {
  await requireDatabase()
  await installSupabasePlatform(PG_URL)
  db = createSupabaseAdapter({ connectionString: PG_URL, tls: false })
})

afterAll(async () => {
  await db?.close()
  for (const name of created) await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
})

interface FunctionRow {
  name: string
  nargs: number
  ndefaults: number
  definer: boolean
  config: string[] | null
  anon: boolean
  authenticated: boolean
  service: boolean
}

async function functions(schema: string): Promise<FunctionRow[]> {
  return db.all<FunctionRow>(
    `SELECT p.proname AS name, p.pronargs AS nargs, p.pronargdefaults AS ndefaults, p.prosecdef AS definer,
       p.proconfig AS config,
       has_function_privilege('anon', p.oid, 'EXECUTE') AS anon,
       has_function_privilege('authenticated', p.oid, 'EXECUTE') AS authenticated,
       has_function_privilege('service_role', p.oid, 'EXECUTE') AS service
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ? ORDER BY p.proname`,
    [schema],
  )
}

describe('applySupabaseMigration', () => {
  it('applies once, records its version, and does nothing the second time', async () => {
    const names = schemas()
    expect(await applySupabaseMigration(db, names)).toEqual({
      version: SUPABASE_MIGRATION_VERSION,
      applied: true,
    })
    expect(await applySupabaseMigration(db, names)).toEqual({
      version: SUPABASE_MIGRATION_VERSION,
      applied: false,
    })
    const rows = await db.all(`SELECT version FROM ${names.dataSchema}.migrations`)
    expect(rows).toEqual([{ version: SUPABASE_MIGRATION_VERSION }])
  })

  it('applies exactly once when several processes race', async () => {
    const names = schemas()
    const results = await Promise.all([1, 2, 3].map(() => applySupabaseMigration(db, names)))
    expect(results.filter((r) => r.applied)).toHaveLength(1)
  })

  it('the SQL text can be run again as it is, as from the SQL editor, without changing anything', async () => {
    const names = schemas()
    const sql = supabaseMigrationSql(names)
    await db.exec(sql)
    const before = await functions(names.schema)
    await db.exec(sql)
    expect(await functions(names.schema)).toEqual(before)
    expect(await db.all(`SELECT version FROM ${names.dataSchema}.migrations`)).toHaveLength(1)
  })

  it('gives every API parameter a default, so PostgREST matches any subset of arguments', async () => {
    const names = schemas()
    await applySupabaseMigration(db, names)
    const api = await functions(names.schema)
    expect(api.map((f) => f.name)).toEqual([
      'engram_build_index',
      'engram_count',
      'engram_create_collection',
      'engram_delete',
      'engram_describe_collection',
      'engram_drop_collection',
      'engram_get',
      'engram_list_collections',
      'engram_query',
      'engram_scan',
      'engram_upsert',
      'engram_version',
    ])
    for (const fn of api) expect(fn.ndefaults, fn.name).toBe(fn.nargs)
  })

  it('runs every function as its caller with an empty search_path, except the three definer functions', async () => {
    const names = schemas()
    await applySupabaseMigration(db, names)
    for (const fn of [...(await functions(names.schema)), ...(await functions(names.dataSchema))]) {
      // engram_build_index also carries its own statement_timeout, which PostgREST applies to the call.
      const config =
        fn.name === 'engram_build_index' ? ['search_path=""', 'statement_timeout=10min'] : ['search_path=""']
      expect(fn.config, fn.name).toEqual(config)
      expect(fn.definer, fn.name).toBe(
        ['build_index', 'create_collection', 'drop_collection'].includes(fn.name),
      )
    }
  })

  it('lets signed-in users and the service role call the API, anon nothing, and only the service role the definers', async () => {
    const names = schemas()
    await applySupabaseMigration(db, names)
    for (const fn of await functions(names.schema)) {
      expect([fn.name, fn.anon, fn.authenticated, fn.service]).toEqual([fn.name, false, true, true])
    }
    for (const fn of await functions(names.dataSchema)) {
      expect(fn.anon, fn.name).toBe(false)
      const definer = ['build_index', 'create_collection', 'drop_collection'].includes(fn.name)
      expect([fn.name, fn.authenticated, fn.service]).toEqual([fn.name, !definer, true])
    }
  })

  it('keeps every table in the data schema, with row-level security on', async () => {
    const names = schemas()
    await applySupabaseMigration(db, names)
    const tables = await db.all<{ schema: string; rls: boolean }>(
      `SELECT n.nspname AS schema, c.relrowsecurity AS rls FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname IN (?, ?)`,
      [names.schema, names.dataSchema],
    )
    expect(tables.length).toBeGreaterThan(0)
    for (const table of tables) expect(table).toEqual({ schema: names.dataSchema, rls: true })
  })

  it('exports the SQL for the dashboard with the default schemas, ending with a schema cache reload', () => {
    expect(SUPABASE_MIGRATION_SQL).toBe(supabaseMigrationSql())
    expect(SUPABASE_MIGRATION_SQL).toContain('CREATE OR REPLACE FUNCTION "public".engram_query(')
    expect(SUPABASE_MIGRATION_SQL).toContain('CREATE TABLE IF NOT EXISTS "engram".collections')
    expect(SUPABASE_MIGRATION_SQL.trimEnd().endsWith(`NOTIFY pgrst, 'reload schema';`)).toBe(true)
  })

  it('refuses schema names that are not plain lowercase identifiers, and one schema for both', async () => {
    for (const bad of [
      { schema: 'Public' },
      { dataSchema: 'x"; DROP SCHEMA public; --' },
      { schema: 'same', dataSchema: 'same' },
    ]) {
      expect(() => supabaseMigrationSql(bad)).toThrow(/schema/)
      await expect(applySupabaseMigration(db, bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
  })

  it('refuses an adapter that is not Postgres', async () => {
    const sqlite = { dialect: 'sqlite' } as unknown as SupabaseAdapter
    await expect(applySupabaseMigration(sqlite)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
