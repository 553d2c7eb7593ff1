import pg from 'pg'

/** The test database; CI starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** Fails loudly (never skips) when the test database cannot be reached. */
export async function requireDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(
      `The @engram/postgres tests need PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs admin SQL on a short-lived connection. */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A fresh schema name nothing uses yet. */
export function freshSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}

/** A login role that is neither a superuser nor BYPASSRLS, so row-level security binds it. */
export interface RestrictedRole {
  readonly role: string
  /** A fresh schema the role may use and create tables in (it owns what it creates). */
  readonly schema: string
  /** `PG_URL` with the role as the user (the test server trusts local connections). */
  readonly url: string
  /** Removes the role, everything it owns and the schema. */
  drop(): Promise<void>
}

/** Creates a fresh restricted role and schema; call `drop()` in `afterAll`. */
export async function createRestrictedRole(prefix: string): Promise<RestrictedRole> {
  const role = freshSchema(`${prefix}_role`)
  const schema = freshSchema(prefix)
  await admin(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS;
    CREATE SCHEMA ${schema};
    GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`)
  const url = new URL(PG_URL)
  url.username = role
  url.password = ''
  return {
    role,
    schema,
    url: url.toString(),
    // Only this role's objects and this schema: other work on the same server is never touched.
    drop: () =>
      admin(`REASSIGN OWNED BY ${role} TO CURRENT_USER;
        DROP OWNED BY ${role};
        DROP SCHEMA IF EXISTS ${schema} CASCADE;
        DROP ROLE IF EXISTS ${role}`),
  }
}
