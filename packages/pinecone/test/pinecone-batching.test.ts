import { describe, expect, it } from 'vitest'
import { storeOn, uniqueCollection, useServer } from './pinecone-test-env.js'

const server = await useServer([{ name: 'batches', dimension: 8 }])

function requestsOf(operation: string) {
  return server.requests.filter((request) => request.operation === operation)
}

describe('Pinecone store: request sizes', () => {
  it('splits an upsert of 2,500 records into requests of at most 1,000', async () => {
    const store = storeOn(server, 'batches')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 8 })
    server.clearRequests()
    await store.upsert(
      name,
      Array.from({ length: 2_500 }, (_, i) => ({ id: `r${i}`, vector: [1, i, 0, 0, 0, 0, 0, 0] })),
    )
    expect(requestsOf('upsert').map((r) => r.records)).toEqual([1_000, 1_000, 500])
    expect(requestsOf('upsert').every((r) => r.status === 200)).toBe(true)
    expect(await store.count(name)).toBe(2_500)
    await store.close()
  })

  it('splits an upsert of more than 2 MB into requests of at most 2 MB, and every record arrives', async () => {
    const store = storeOn(server, 'batches')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 8 })
    server.clearRequests()
    const text = 'x'.repeat(39_000)
    await store.upsert(
      name,
      Array.from({ length: 120 }, (_, i) => ({ id: `t${i}`, vector: [0, 1, i, 0, 0, 0, 0, 0], text })),
    )
    const upserts = requestsOf('upsert')
    expect(upserts.length).toBeGreaterThanOrEqual(3)
    expect(upserts.reduce((sum, r) => sum + r.bodyBytes, 0)).toBeGreaterThan(4_000_000)
    for (const request of upserts) {
      expect(request.status).toBe(200)
      expect(request.bodyBytes).toBeLessThanOrEqual(2_000_000)
    }
    // Requests are filled close to the limit, so the body size is counted as the client sends it.
    expect(upserts[0]?.bodyBytes).toBeGreaterThan(1_950_000)
    expect(upserts.reduce((sum, r) => sum + r.records, 0)).toBe(120)
    expect(await store.count(name)).toBe(120)
    await store.close()
  })

  it('fetches many long ids in several requests whose URLs stay short, and deletes in chunks of 1,000', async () => {
    const store = storeOn(server, 'batches')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 8 })
    const ids = Array.from({ length: 1_200 }, (_, i) => `long-id-${'x'.repeat(60)}-${i}`)
    await store.upsert(
      name,
      ids.map((id, i) => ({ id, vector: [1, 0, 0, i, 0, 0, 0, 0], metadata: { n: i } })),
    )
    server.clearRequests()
    expect(await store.get(name, ids)).toHaveLength(1_200)
    const fetches = requestsOf('fetch')
    expect(fetches.length).toBeGreaterThan(1)
    for (const request of fetches) expect(request.urlLength).toBeLessThan(8_500)
    server.clearRequests()
    expect(await store.delete(name, { filter: { n: { $gte: 0 } } })).toBe(1_200)
    expect(requestsOf('delete').map((r) => r.records)).toEqual([1_000, 200])
    expect(await store.count(name)).toBe(0)
    await store.close()
  })
})
