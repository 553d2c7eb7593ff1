import type { VectorStore } from '@engram/core'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

describe('tenants sharing a collection', () => {
  let target: QdrantTarget
  let prefix: string
  let a: VectorStore
  let b: VectorStore
  let shared: VectorStore

  beforeAll(async () => {
    target = await startTarget()
  })

  afterAll(async () => {
    await target.stop()
  })

  beforeEach(async () => {
    prefix = target.prefix()
    a = target.open({ collectionPrefix: prefix, tenant: 'tenant-a' })
    b = target.open({ collectionPrefix: prefix, tenant: 'tenant-b' })
    shared = target.open({ collectionPrefix: prefix })
    await a.createCollection('notes', { dimension: 2 })
    await b.createCollection('notes', { dimension: 2 })
    await a.upsert('notes', [
      { id: 'same', vector: [1, 0], metadata: { owner: 'a' }, text: 'apple orchard' },
      { id: 'a-only', vector: [0.9, 0.1], metadata: { owner: 'a' }, text: 'apple pie' },
    ])
    await b.upsert('notes', [{ id: 'same', vector: [0, 1], metadata: { owner: 'b' }, text: 'banana bread' }])
  })

  afterEach(async () => {
    await shared.dropCollection('notes')
    for (const store of [a, b, shared]) await store.close()
  })

  it('tenant A never sees tenant B: get, query, text search, count, scan and describe', async () => {
    expect((await a.get('notes', ['same', 'a-only'])).map((r) => r.metadata?.owner)).toEqual(['a', 'a'])
    expect((await b.get('notes', ['same', 'a-only'])).map((r) => r.metadata?.owner)).toEqual(['b'])
    expect((await b.query('notes', { vector: [1, 0], topK: 10 })).map((m) => m.id)).toEqual(['same'])
    expect(await b.query('notes', { text: 'apple', mode: 'text' })).toEqual([])
    expect(await b.query('notes', { vector: [1, 0], text: 'apple', topK: 10 })).toHaveLength(1)
    expect(await a.count('notes')).toBe(2)
    expect(await b.count('notes', { owner: 'a' })).toBe(0)
    expect((await b.describeCollection('notes'))?.count).toBe(1)
    const scanned: string[] = []
    for await (const batch of b.scan('notes'))
      scanned.push(...batch.map((r) => `${r.id}:${r.metadata?.owner}`))
    expect(scanned).toEqual(['same:b'])
  })

  it('the same id in two tenants names two records', async () => {
    const [fromA] = await a.get('notes', ['same'])
    const [fromB] = await b.get('notes', ['same'])
    expect(fromA?.text).toBe('apple orchard')
    expect(fromB?.text).toBe('banana bread')
  })

  it("a tenant's deletes, even by a filter matching everything, never touch another tenant", async () => {
    expect(await b.delete('notes', { ids: ['same', 'a-only'] })).toBe(1)
    expect(await b.delete('notes', { filter: { owner: { $exists: false } } })).toBe(0)
    expect(await a.count('notes')).toBe(2)
    expect(await a.delete('notes', { filter: { owner: { $ne: 'nobody' } } })).toBe(2)
    await b.upsert('notes', [{ id: 'again', vector: [0, 1] }])
    expect(await b.count('notes')).toBe(1)
  })

  it("a tenant's dropCollection removes only its own records; the store without a tenant sees none of theirs", async () => {
    await b.dropCollection('notes')
    expect(await b.count('notes')).toBe(0)
    expect(await a.count('notes')).toBe(2)
    expect(await shared.count('notes')).toBe(0)
    expect(await shared.listCollections()).toEqual(['notes'])
  })

  it('the tenant field has a keyword payload index marked is_tenant', async () => {
    const client = new QdrantClient({
      url: target.url,
      checkCompatibility: false,
      ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    })
    const info = await client.getCollection(`${prefix}notes`)
    expect(info.payload_schema.tenant).toMatchObject({
      data_type: 'keyword',
      params: { type: 'keyword', is_tenant: true },
    })
  })

  it('every search, count, scroll and delete carries the tenant condition', async (ctx) => {
    const server = target.server
    ctx.skip(server === undefined, 'the request log exists only on the test server')
    if (server === undefined) return
    server.clearRequests()
    await b.query('notes', { vector: [1, 0], text: 'apple' })
    await b.query('notes', { vector: [1, 0] })
    await b.count('notes')
    for await (const _ of b.scan('notes')) {
      // drain
    }
    await b.delete('notes', { filter: { owner: 'b' } })
    const filtered = server.requests.filter((r) => /\/points\/(query|count|scroll|delete)/.test(r.path))
    const bodies = filtered.flatMap((r) =>
      r.path.endsWith('/batch') ? (r.body as { searches: unknown[] }).searches : [r.body],
    )
    expect(bodies.length).toBeGreaterThanOrEqual(6)
    for (const body of bodies) {
      expect(JSON.stringify((body as { filter: unknown }).filter)).toContain(
        '{"key":"tenant","match":{"value":"tenant-b"}}',
      )
    }
  })
})
