import { describeVectorStore } from '@engram/conformance'
import { startPineconeTestServer } from '@engram/test-servers/pinecone'
import { afterAll } from 'vitest'
import { createPineconeVectorStore } from '../src/index.js'
import { realServiceFromEnv } from './pinecone-real-service.js'

// The suite creates collections of 2 to 16 dimensions, so they share one 24-dimension index, zero-padded.
const server = await startPineconeTestServer({ indexes: [{ name: 'engram-suite', dimension: 24 }] })
afterAll(() => server.close())

const base = {
  apiKey: server.apiKey,
  controllerHostUrl: server.url,
  indexName: 'engram-suite',
  padSmallerDimensions: true,
  maxRetries: 0,
}

// The test server is exact and consistent at once: no settle hook, exact ranking checks.
describeVectorStore('pinecone (test server)', async () => createPineconeVectorStore(base))

// The same suite through a tenant-scoped store; collections are shared by tenants, so a tenant's
// dropCollection keeps the collection and the lifecycle group does not apply.
describeVectorStore(
  'pinecone (test server, tenant-scoped)',
  async () => createPineconeVectorStore({ ...base, tenant: 'tenant a/ü' }),
  { groups: { lifecycle: false } },
)

// The real service, when PINECONE_API_KEY and PINECONE_INDEX (or PINECONE_INDEX_HOST) are set:
// approximate search, eventually consistent (settle waits), namespaces of this run removed at the end.
const real = realServiceFromEnv()
if (real) {
  afterAll(() => real.cleanup(), 300_000)
  describeVectorStore('pinecone (real service)', async () => createPineconeVectorStore(real.config), {
    settle: () => real.settle(),
    approximate: true,
  })
}
