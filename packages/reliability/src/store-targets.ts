import { createReferenceVectorStore } from '@engram/conformance'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { createSqlJsAdapter } from '@engram/sqljs'
import { admin, freshName, PG_URL } from './pg-env.js'

/** One vector store the suite runs against. */
export interface StoreTarget {
  /** How the figures and test names call it. */
  readonly name: string
  /** The store; every target's store is open until `StoreTargets.close()`. */
  readonly store: VectorStore
  /** For stores with tenants: another store on the same data, scoped to `tenant` (closed by `close()`). */
  readonly withTenant?: (tenant: string) => VectorStore
}

/** The stores that could be opened here, the ones that could not (and why), and how to close them all. */
export interface StoreTargets {
  /** Stores ready to use. */
  readonly targets: readonly StoreTarget[]
  /** Stores left out, each with the reason. */
  readonly skipped: ReadonlyArray<{ name: string; reason: string }>
  /** Closes every store, adapter and test server, and drops the schemas made for them. */
  close(): Promise<void>
}

type Closer = () => Promise<unknown>

/**
 * Opens every vector store engram has: the reference store, `@engram/sqlite-vector` on
 * sqlite-native and on sql.js, pgvector (plain and tenant-scoped) on the test database, and the
 * remote stores (Qdrant, Pinecone, Supabase) through their real clients against the protocol
 * test servers when their packages are built. Collections made by the caller stay the caller's
 * to drop; schemas and servers made here are removed by `close()`.
 */
export async function openStoreTargets(): Promise<StoreTargets> {
  const targets: StoreTarget[] = []
  const skipped: Array<{ name: string; reason: string }> = []
  const closers: Closer[] = []
  const add = (name: string, store: VectorStore, tenanted?: (tenant: string) => VectorStore): void => {
    const withTenant =
      tenanted &&
      ((tenant: string): VectorStore => {
        const scoped = tenanted(tenant)
        closers.push(() => scoped.close())
        return scoped
      })
    targets.push(withTenant ? { name, store, withTenant } : { name, store })
    closers.push(() => store.close())
  }

  add('reference', createReferenceVectorStore())
  const native = createSqliteNativeAdapter({ filename: ':memory:' })
  closers.push(() => native.close())
  add('sqlite-vector on sqlite-native', createSqliteVectorStore({ adapter: native }))
  const sqljs = await createSqlJsAdapter()
  closers.push(() => sqljs.close())
  add('sqlite-vector on sqljs', createSqliteVectorStore({ adapter: sqljs }))

  const pg: StorageAdapter = createPostgresAdapter({ connectionString: PG_URL, max: 4 })
  const schema = freshName('engram_rel_vec')
  closers.push(async () => {
    await pg.close()
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })
  add('pgvector', createPgVectorStore({ adapter: pg, schema }), (tenant) =>
    createPgVectorStore({ adapter: pg, schema, tenant }),
  )
  add('pgvector (tenant-scoped)', createPgVectorStore({ adapter: pg, schema, tenant: 'tenant ü/1' }))

  const qdrant = await load(skipped, 'qdrant (test server)', () =>
    Promise.all([import('@engram/qdrant'), import('@engram/test-servers/qdrant')]),
  )
  if (qdrant) {
    const [{ createQdrantVectorStore }, { startQdrantTestServer }] = qdrant
    const server = await startQdrantTestServer()
    closers.push(() => server.close())
    const config = { url: server.url, collectionPrefix: `${freshName('rel')}_`, retryDelayMs: 1 }
    add('qdrant (test server)', createQdrantVectorStore(config), (tenant) =>
      createQdrantVectorStore({ ...config, tenant }),
    )
  }
  const pinecone = await load(skipped, 'pinecone (test server)', () =>
    Promise.all([import('@engram/pinecone'), import('@engram/test-servers/pinecone')]),
  )
  if (pinecone) {
    const [{ createPineconeVectorStore }, { startPineconeTestServer }] = pinecone
    const server = await startPineconeTestServer({ indexes: [{ name: 'engram-reliability', dimension: 4 }] })
    closers.push(() => server.close())
    const config = {
      apiKey: server.apiKey,
      controllerHostUrl: server.url,
      indexName: 'engram-reliability',
      maxRetries: 0,
    }
    add('pinecone (test server)', createPineconeVectorStore(config), (tenant) =>
      createPineconeVectorStore({ ...config, tenant }),
    )
  }
  const supabase = await load(skipped, 'supabase (PostgREST test server)', () =>
    Promise.all([import('@engram/supabase'), import('@engram/test-servers/postgrest')]),
  )
  if (supabase) {
    const [client, servers] = supabase
    await servers.installSupabasePlatform(PG_URL)
    const api = freshName('engram_rel_api')
    const data = freshName('engram_rel_data')
    closers.push(() => admin(`DROP SCHEMA IF EXISTS ${api} CASCADE; DROP SCHEMA IF EXISTS ${data} CASCADE`))
    const db = client.createSupabaseAdapter({ connectionString: PG_URL, tls: false })
    try {
      await client.applySupabaseMigration(db, { schema: api, dataSchema: data })
    } finally {
      await db.close()
    }
    const server = await servers.startPostgrestServer({ connectionString: PG_URL, schemas: [api] })
    closers.push(() => server.close())
    const config = { url: server.url, key: server.serviceRoleKey, schema: api }
    add('supabase (PostgREST test server)', client.createSupabaseVectorStore(config), (tenant) =>
      client.createSupabaseVectorStore({ ...config, tenant }),
    )
  }

  return {
    targets,
    skipped,
    async close() {
      // Stores first, then what they ran on: the reverse of opening.
      for (const close of closers.reverse()) await close().catch(() => undefined)
    },
  }
}

/**
 * Loads a remote store's package and its test server, or records why it cannot (the package is
 * being written and not built yet); `pnpm test:reliability` builds every package first.
 */
async function load<T>(
  skipped: Array<{ name: string; reason: string }>,
  name: string,
  load: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await load()
  } catch (error) {
    skipped.push({ name, reason: `its package cannot be loaded: ${(error as Error).message.split('\n')[0]}` })
    return undefined
  }
}
