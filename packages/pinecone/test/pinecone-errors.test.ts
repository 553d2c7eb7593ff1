import { Pinecone } from '@pinecone-database/pinecone'
import { describe, expect, it } from 'vitest'
import { createPineconeVectorStore } from '../src/index.js'
import { failure, storeOn, uniqueCollection, useServer } from './pinecone-test-env.js'

const server = await useServer([
  { name: 'errors', dimension: 4 },
  { name: 'dotty', dimension: 4, metric: 'dotproduct' },
  { name: 'pods', dimension: 4, deployment: 'pod' },
])

function statuses(operation: string): number[] {
  return server.requests.filter((r) => r.operation === operation).map((r) => r.status)
}

async function withRecord(config: Parameters<typeof storeOn>[2] = {}) {
  const store = storeOn(server, 'errors', config)
  const name = uniqueCollection()
  await store.createCollection(name, { dimension: 4 })
  await store.upsert(name, [{ id: 'a', vector: [1, 0, 0, 0] }])
  server.clearRequests()
  return { store, name }
}

describe('Pinecone store: setting up', () => {
  it('a rejected API key (401) is CONNECTION_FAILED and says to check the key', async () => {
    const store = storeOn(server, 'errors', { apiKey: 'not-the-key' })
    const error = await failure(() => store.listCollections())
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain('API key')
  })

  it('an index that does not exist (404) is NOT_FOUND and points to the set-up guide', async () => {
    const error = await failure(() => storeOn(server, 'no-such-index').listCollections())
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toContain('docs/pinecone.md')
  })

  it('an index of another metric is INVALID_ARGUMENT that names the metric to pass', async () => {
    const error = await failure(() => storeOn(server, 'dotty').listCollections())
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toContain("metric: 'dot'")
    await expect(storeOn(server, 'dotty', { metric: 'dot' }).listCollections()).resolves.toEqual([])
  })

  it('a pod-based index is UNSUPPORTED', async () => {
    expect((await failure(() => storeOn(server, 'pods').listCollections())).code).toBe('UNSUPPORTED')
  })

  it('an unreachable control plane is CONNECTION_FAILED', async () => {
    const store = storeOn(server, 'errors', { controllerHostUrl: 'http://127.0.0.1:1' })
    expect((await failure(() => store.listCollections())).code).toBe('CONNECTION_FAILED')
  })

  it('a failed set-up is tried again by the next call', async () => {
    const store = storeOn(server, 'errors')
    server.failNext('describeIndex', { status: 503 })
    expect((await failure(() => store.listCollections())).code).toBe('BUSY')
    await expect(store.listCollections()).resolves.toBeInstanceOf(Array)
    await store.close()
  })

  it('works from the index host alone, reading the dimension from index stats', async () => {
    const store = createPineconeVectorStore({
      apiKey: server.apiKey,
      indexHost: server.hostOf('errors'),
      maxRetries: 0,
    })
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    expect((await failure(() => store.createCollection(uniqueCollection(), { dimension: 3 }))).code).toBe(
      'DIMENSION_MISMATCH',
    )
    await store.close()
  })

  it('refuses a configuration it cannot use before any request', () => {
    const bad = [
      {},
      { apiKey: 'k' },
      { apiKey: '', indexName: 'errors' },
      { apiKey: 'k', indexName: 'errors', metric: 'manhattan' },
      { apiKey: 'k', indexName: 'errors', rateLimitRetries: -1 },
      { apiKey: 'k', indexName: 'errors', padSmallerDimensions: 'yes' },
    ]
    for (const config of bad) {
      expect(() => createPineconeVectorStore(config as never), JSON.stringify(config)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
  })

  it('leaves a client it was given usable after close', async () => {
    const client = new Pinecone({ apiKey: server.apiKey, controllerHostUrl: server.url, maxRetries: 0 })
    const store = createPineconeVectorStore({ client, indexName: 'errors' })
    await store.listCollections()
    await store.close()
    await expect(client.describeIndex('errors')).resolves.toMatchObject({ name: 'errors' })
  })
})

describe('Pinecone store: errors during work', () => {
  it('waits out a 429 and succeeds when the limit lifts', async () => {
    const { store, name } = await withRecord()
    server.failNext('query', { status: 429, times: 2 })
    expect((await store.query(name, { vector: [1, 0, 0, 0] })).map((m) => m.id)).toEqual(['a'])
    expect(statuses('query')).toEqual([429, 429, 200])
    await store.close()
  })

  it('gives up with BUSY after rateLimitRetries retries of a 429', async () => {
    const { store, name } = await withRecord({ rateLimitRetries: 2 })
    server.failNext('fetch', { status: 429, times: 3 })
    const error = await failure(() => store.get(name, ['a']))
    expect(error.code).toBe('BUSY')
    expect(error.message).toContain('rate-limited')
    expect(statuses('fetch')).toEqual([429, 429, 429])
    await store.close()
  })

  it('a server error is retried by the client, and one that persists is BUSY', async () => {
    const { store, name } = await withRecord({ maxRetries: 1 })
    server.failNext('fetch', { status: 500 })
    expect(await store.get(name, ['a'])).toHaveLength(1)
    expect(statuses('fetch')).toEqual([500, 200])
    server.clearRequests()
    server.failNext('fetch', { status: 500, times: 2 })
    const error = await failure(() => store.get(name, ['a']))
    expect(error.code).toBe('BUSY')
    expect(error.message).toContain('status.pinecone.io')
    expect(statuses('fetch')).toEqual([500, 500])
    await store.close()
  })

  it('a 503 without client retries is BUSY, and a 400 is INVALID_ARGUMENT carrying Pinecone’s message', async () => {
    const { store, name } = await withRecord()
    server.failNext('describeNamespace', { status: 503 })
    expect((await failure(() => store.count(name))).code).toBe('BUSY')
    server.failNext('upsert', { status: 400, message: 'Vector dimension 9 does not match' })
    const error = await failure(() => store.upsert(name, [{ id: 'b', vector: [0, 1, 0, 0] }]))
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toContain('Vector dimension 9 does not match')
    expect(await store.count(name)).toBe(1)
    await store.close()
  })

  it('a read answered with 404, as for a namespace that has no records yet, is empty rather than an error', async () => {
    const { store, name } = await withRecord()
    server.failNext('fetch', { status: 404 })
    expect(await store.get(name, ['a'])).toEqual([])
    server.failNext('query', { status: 404 })
    expect(await store.query(name, { vector: [1, 0, 0, 0] })).toEqual([])
    server.failNext('list', { status: 404 })
    const batches = []
    for await (const batch of store.scan(name)) batches.push(batch)
    expect(batches).toEqual([])
    expect(await store.get(name, ['a'])).toHaveLength(1)
    await store.close()
  })
})
