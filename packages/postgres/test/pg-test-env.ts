import { admin, freshName, PG_URL, requirePostgres } from '@engram/test-servers/postgres'

export { admin, PG_URL }

/** Fails loudly (never skips) when the test database cannot be reached. */
export const requireDatabase = (): Promise<void> => requirePostgres('The @engram/postgres tests')

/** A fresh schema name nothing uses yet. */
export const freshSchema = freshName

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
