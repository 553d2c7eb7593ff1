import { createServer } from 'node:net'
import { isStorageError, type StorageError, type VectorStore } from '@engram/core'
import { type QdrantTestServer, startQdrantTestServer } from '@engram/test-servers/qdrant'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createQdrantVectorStore, type QdrantVectorStoreConfig } from '../src/index.js'

// Faults need a server that can be told to fail, so these tests always run on engram's Qdrant
// test server, also when QDRANT_URL points the other suites at a real Qdrant.
let server: QdrantTestServer
const stores: VectorStore[] = []
let n = 0

function open(extra: Partial<QdrantVectorStoreConfig> = {}): VectorStore {
  const store = createQdrantVectorStore({
    url: server.url,
    collectionPrefix: `e${n++}_`,
    retryDelayMs: 0,
    ...extra,
  })
  stores.push(store)
  return store
}

async function failure(action: () => Promise<unknown>): Promise<StorageError> {
  try {
    await action()
  } catch (error) {
    if (isStorageError(error)) return error
    throw error
  }
  throw new Error('expected a StorageError')
}

beforeAll(async () => {
  server = await startQdrantTestServer()
})

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
})

afterAll(async () => {
  await server.close()
})

describe('HTTP failures become StorageErrors with the right code', () => {
  it('retries a 429 and succeeds when the server recovers', async () => {
    const store = open()
    await store.createCollection('docs', { dimension: 2 })
    server.clearRequests()
    server.failNext({
      status: 429,
      times: 2,
      match: /^PUT .*\/points$/,
      message: 'Rate limiting exceeded: try later',
    })
    await store.upsert('docs', [{ id: 'a', vector: [1, 0] }])
    const upserts = server.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/points'))
    expect(upserts).toHaveLength(3)
    expect(await store.count('docs')).toBe(1)
  })

  it("honours Qdrant's Retry-After on a 429", async () => {
    const store = open({ retryDelayMs: 60_000 })
    await store.createCollection('docs', { dimension: 2 })
    // A 60-second backoff would time the test out: the Retry-After of 0 seconds must win.
    server.failNext({ status: 429, match: /\/points\/count$/, headers: { 'retry-after': '0' } })
    expect(await store.count('docs')).toBe(0)
  })

  it('gives up after maxRetries and reports BUSY', async () => {
    const store = open({ maxRetries: 2 })
    await store.createCollection('docs', { dimension: 2 })
    server.failNext({
      status: 429,
      times: 3,
      match: /\/points\/count$/,
      message: 'Rate limiting exceeded: too many',
    })
    const error = await failure(() => store.count('docs'))
    expect(error.code).toBe('BUSY')
    expect(error.message).toContain('after 2 retries')
    expect(error.message).toContain('Rate limiting exceeded: too many')
  })

  it('reports a 500 as QUERY_FAILED with what Qdrant said, and does not retry it', async () => {
    const store = open()
    await store.createCollection('docs', { dimension: 2 })
    server.clearRequests()
    server.failNext({ status: 500, match: /\/points\/query$/, message: 'Service internal error: disk full' })
    const error = await failure(() => store.query('docs', { vector: [1, 0] }))
    expect(error.code).toBe('QUERY_FAILED')
    expect(error.message).toContain('Service internal error: disk full')
    expect(server.requests.filter((r) => r.path.endsWith('/points/query'))).toHaveLength(1)
  })

  it('reports a 400 naming a vector dimension as DIMENSION_MISMATCH and any other 400 or 422 as INVALID_ARGUMENT', async () => {
    const store = open()
    await store.createCollection('docs', { dimension: 2 })
    server.failNext({
      status: 400,
      match: /\/points$/,
      message: 'Wrong input: Vector dimension error: expected dim: 3, got 2',
    })
    expect((await failure(() => store.upsert('docs', [{ id: 'a', vector: [1, 0] }]))).code).toBe(
      'DIMENSION_MISMATCH',
    )
    server.failNext({
      status: 422,
      match: /\/points\/count$/,
      message: 'Validation error in JSON body: [limit: bad]',
    })
    expect((await failure(() => store.count('docs'))).code).toBe('INVALID_ARGUMENT')
  })

  it('reports a collection dropped between lookup and write as NOT_FOUND for that collection', async () => {
    const store = open()
    await store.createCollection('docs', { dimension: 2 })
    server.failNext({ status: 404, match: /\/points$/, message: "Not found: Collection `x` doesn't exist!" })
    const error = await failure(() => store.upsert('docs', [{ id: 'a', vector: [1, 0] }]))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toContain('Collection "docs" does not exist')
  })

  it('reports a request that outlives `timeout` as TIMEOUT', async () => {
    const store = open({ timeout: 200 })
    server.failNext({ status: 200, hang: true, match: /^GET \/collections$/ })
    expect((await failure(() => store.listCollections())).code).toBe('TIMEOUT')
  })

  it('reports a refused API key as CONNECTION_FAILED with a hint about apiKey', async () => {
    const guarded = await startQdrantTestServer({ apiKey: 'right' })
    const store = createQdrantVectorStore({ url: guarded.url, apiKey: 'wrong' })
    try {
      const error = await failure(() => store.listCollections())
      expect(error.code).toBe('CONNECTION_FAILED')
      expect(error.message).toContain('401')
      expect(error.message).toContain('apiKey')
    } finally {
      await store.close()
      await guarded.close()
    }
  })

  it('reports a missing API key (401) and a key without write access (403) as CONNECTION_FAILED', async () => {
    const guarded = await startQdrantTestServer({ apiKey: 'right' })
    const keyless = createQdrantVectorStore({ url: guarded.url })
    try {
      const missing = await failure(() => keyless.listCollections())
      expect(missing.code).toBe('CONNECTION_FAILED')
      expect(missing.message).toContain('Must provide an API key')
    } finally {
      await keyless.close()
      await guarded.close()
    }
    const store = open()
    server.failNext({ status: 403, message: 'Forbidden: Write access denied: read-only API key' })
    const forbidden = await failure(() => store.createCollection('docs', { dimension: 2 }))
    expect(forbidden.code).toBe('CONNECTION_FAILED')
    expect(forbidden.message).toContain('write access')
  })

  it('reports an unreachable server as CONNECTION_FAILED naming the URL, and works once it is reachable', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const store = createQdrantVectorStore({ url })
    try {
      const error = await failure(() => store.createCollection('docs', { dimension: 2 }))
      expect(error.code).toBe('CONNECTION_FAILED')
      expect(error.message).toContain(url)
      expect(error.message).toContain('ECONNREFUSED')
      const late = await startQdrantTestServer({ port })
      try {
        await store.createCollection('docs', { dimension: 2 })
        expect(await store.listCollections()).toEqual(['docs'])
      } finally {
        await late.close()
      }
    } finally {
      await store.close()
    }
  })

  it('keeps the failed call from writing anything when a later request of the same call fails', async () => {
    const store = open()
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', [{ id: 'kept', vector: [1, 0] }])
    server.failNext({ status: 500, match: /\/points\/delete$/ })
    const error = await failure(() => store.delete('docs', { ids: ['kept'] }))
    expect(error.code).toBe('QUERY_FAILED')
    expect(await store.count('docs')).toBe(1)
  })
})

/** A port nothing listens on: bound once, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}
