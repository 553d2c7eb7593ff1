import { randomUUID } from 'node:crypto'
import { admin, freshName, PG_URL, requirePostgres } from '@engram/test-servers/postgres'
import {
  installSupabasePlatform,
  type PostgrestServer,
  startPostgrestServer,
} from '@engram/test-servers/postgrest'
import {
  applySupabaseMigration,
  createSupabaseAdapter,
  createSupabaseClient,
  type SupabaseRpcClient,
} from '../src/index.js'

export { admin, freshName, PG_URL }

/** A signed-in user of the project: their id (auth.uid()) and access token. */
export interface TestUser {
  readonly id: string
  readonly token: string
}

/** A Supabase project to test against: the local test server, or a real one from the environment. */
export interface SupabaseTarget {
  /** Where the tests run, for test names. */
  readonly label: string
  /** The project URL. */
  readonly url: string
  /** The service role key. */
  readonly serviceRoleKey: string
  /** The anon key, when known. */
  readonly anonKey: string | undefined
  /** The schema holding engram's functions. */
  readonly schema: string
  /** The schema holding its tables, when this run created it. */
  readonly dataSchema: string | undefined
  /** Two signed-in users, or `undefined` when the environment gives none. */
  readonly users: readonly [TestUser, TestUser] | undefined
  /** The local test server, when the tests run on it. */
  readonly server: PostgrestServer | undefined
  /** A client with the service role key. */
  serviceClient(): SupabaseRpcClient
  /** A client for a signed-in user (the anon key plus their access token). */
  userClient(user: TestUser): SupabaseRpcClient
  /** Stops the server and drops the schemas this run created. */
  close(): Promise<void>
}

/** Fails loudly (never skips) when the test database cannot be reached. */
export const requireDatabase = (): Promise<void> => requirePostgres('The @engram/supabase tests')

function subject(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sub?: string
  }
  if (typeof payload.sub !== 'string')
    throw new Error('SUPABASE_USER_JWT must be a user access token with a sub claim')
  return payload.sub
}

/**
 * A real project when `SUPABASE_URL` and `SUPABASE_SERVICE_ROLE_KEY` are set (the migration
 * already applied, or `SUPABASE_DB_URL` given so the tests apply it), with users from
 * `SUPABASE_USER_JWT` and `SUPABASE_OTHER_USER_JWT` (and `SUPABASE_ANON_KEY`) for the
 * row-level security cases. Otherwise the local PostgREST test server on the test database,
 * with the migration in schemas of its own, dropped by `close()`.
 */
export async function openTarget(): Promise<SupabaseTarget> {
  const { SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY } = process.env
  if (SUPABASE_URL && SUPABASE_SERVICE_ROLE_KEY) return remoteTarget(SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY)
  return localTarget()
}

async function remoteTarget(url: string, serviceRoleKey: string): Promise<SupabaseTarget> {
  const env = process.env
  const schema = env.SUPABASE_SCHEMA ?? 'public'
  if (env.SUPABASE_DB_URL) {
    const db = createSupabaseAdapter({
      connectionString: env.SUPABASE_DB_URL,
      ...(env.SUPABASE_CA ? { ca: env.SUPABASE_CA } : {}),
    })
    try {
      await applySupabaseMigration(db, { schema })
    } finally {
      await db.close()
    }
  }
  const anonKey = env.SUPABASE_ANON_KEY
  const first = env.SUPABASE_USER_JWT
  const second = env.SUPABASE_OTHER_USER_JWT
  const users: [TestUser, TestUser] | undefined =
    first && second && anonKey
      ? [
          { id: subject(first), token: first },
          { id: subject(second), token: second },
        ]
      : undefined
  return {
    label: 'a Supabase project',
    url,
    serviceRoleKey,
    anonKey,
    schema,
    dataSchema: undefined,
    users,
    server: undefined,
    serviceClient: () => createSupabaseClient({ url, key: serviceRoleKey }),
    userClient: (user) => createSupabaseClient({ url, key: anonKey as string, accessToken: user.token }),
    close: async () => undefined,
  }
}

/**
 * The local PostgREST test server on the test database, with the migration in fresh schemas.
 * `extraSchemas` are created empty and exposed too (for calls that must find no functions).
 */
export async function localTarget(
  options: { extraSchemas?: readonly string[] } = {},
): Promise<SupabaseTarget> {
  await requireDatabase()
  await installSupabasePlatform(PG_URL)
  const schema = freshName('engram_api')
  const dataSchema = freshName('engram_data')
  const extra = options.extraSchemas ?? []
  const db = createSupabaseAdapter({ connectionString: PG_URL, tls: false })
  try {
    await applySupabaseMigration(db, { schema, dataSchema })
    for (const name of extra)
      await db.exec(
        `CREATE SCHEMA ${name}; GRANT USAGE ON SCHEMA ${name} TO anon, authenticated, service_role`,
      )
  } finally {
    await db.close()
  }
  const server = await startPostgrestServer({ connectionString: PG_URL, schemas: [schema, ...extra] })
  const user = (): TestUser => {
    const id = randomUUID()
    return { id, token: server.userToken(id) }
  }
  return {
    label: 'the PostgREST test server',
    url: server.url,
    serviceRoleKey: server.serviceRoleKey,
    anonKey: server.anonKey,
    schema,
    dataSchema,
    users: [user(), user()],
    server,
    serviceClient: () => createSupabaseClient({ url: server.url, key: server.serviceRoleKey }),
    userClient: (u) => createSupabaseClient({ url: server.url, key: server.anonKey, accessToken: u.token }),
    async close() {
      await server.close()
      for (const name of [schema, dataSchema, ...extra]) await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
    },
  }
}
