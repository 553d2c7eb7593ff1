import { describeVectorStore } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

// The registry and every collection table live in this file's own schema, dropped at the end.
const schema = freshSchema('engram_vec')
let adapter: StorageAdapter

beforeAll(async () => {
  await requireDatabase()
  adapter = createPostgresAdapter({ connectionString: PG_URL })
})

afterAll(async () => {
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

describeVectorStore('pgvector', async () => createPgVectorStore({ adapter, schema }))

// The same suite through a tenant-scoped store that opens (and closes) its own connection pool.
describeVectorStore(
  'pgvector (tenant-scoped, own pool)',
  async () => createPgVectorStore({ connectionString: PG_URL, schema, tenant: 'tenant-a' }),
  { groups: { lifecycle: false } },
)

// Every search on the HNSW path, whose first one starts the index build in the background and,
// like every search until the build ends, is answered exactly; a store's close() waits for it.
describeVectorStore(
  'pgvector (HNSW path, index built in the background)',
  async () => createPgVectorStore({ adapter, schema, exactBelow: 0, buildIndexInBackground: true }),
  { approximate: true },
)
