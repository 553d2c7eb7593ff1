import pg from 'pg'

/** The roles every Supabase project has; PostgREST switches to one of them for each request. */
export const SUPABASE_ROLES = ['anon', 'authenticated', 'service_role'] as const

// Roles are cluster-wide and the test server is shared, so two runs may create them at once:
// CREATE ROLE then races on pg_authid's unique index, which either error below reports.
const CREATE_ROLES = SUPABASE_ROLES.map(
  (role) => `DO $role$ BEGIN
    CREATE ROLE ${role} NOLOGIN NOINHERIT${role === 'service_role' ? ' BYPASSRLS' : ''};
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END $role$`,
)

/**
 * `auth.uid()`, `auth.role()` and `auth.jwt()` as Supabase defines them: each reads the legacy
 * per-claim setting first (older PostgREST set `request.jwt.claim.<name>`) and then the claims
 * object current PostgREST sets as `request.jwt.claims`.
 */
const AUTH_FUNCTIONS = `
CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$fn$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$fn$;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$fn$;`

/**
 * Creates what every Supabase project provides and what SQL written for Supabase relies on:
 * the roles `anon`, `authenticated` and `service_role` (BYPASSRLS, as on Supabase) and an `auth`
 * schema with `auth.uid()`, `auth.role()` and `auth.jwt()`. Idempotent and safe to run from
 * several processes at once; it never drops anything, because other runs on the same server
 * share the roles. Needs a superuser (or CREATEROLE) connection.
 *
 * @example
 * await installSupabasePlatform('postgres://postgres@127.0.0.1:5432/engram_test')
 */
export async function installSupabasePlatform(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    for (const statement of CREATE_ROLES) await client.query(statement)
    // A role another run created before BYPASSRLS was asked for still gets it.
    const bypass = await client.query(`SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'`)
    if (bypass.rows[0]?.rolbypassrls !== true) await client.query('ALTER ROLE service_role BYPASSRLS')
    await client.query('BEGIN')
    try {
      // One writer at a time: CREATE OR REPLACE FUNCTION from two sessions at once can fail.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('engram.test-servers.supabase-platform'))`)
      await client.query(AUTH_FUNCTIONS)
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  } finally {
    await client.end()
  }
}
