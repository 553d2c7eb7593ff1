import type { VectorRecord, VectorStore } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { storeOn, uniqueCollection, useServer } from './pinecone-test-env.js'

const server = await useServer([{ name: 'tenants', dimension: 4 }])

async function collectAll(store: VectorStore, name: string): Promise<VectorRecord[]> {
  const out: VectorRecord[] = []
  for await (const batch of store.scan(name)) out.push(...batch)
  return out
}

describe('Pinecone store: tenants', () => {
  it('tenant A never sees, counts, scans, queries or deletes tenant B’s records', async () => {
    const name = uniqueCollection()
    const a = storeOn(server, 'tenants', { tenant: 'acme' })
    const b = storeOn(server, 'tenants', { tenant: 'globex' })
    await a.createCollection(name, { dimension: 4 })
    await b.createCollection(name, { dimension: 4 }) // collections are shared: a no-op
    await a.upsert(name, [
      { id: 'same', vector: [1, 0, 0, 0], metadata: { owner: 'a' } },
      { id: 'only-a', vector: [0, 1, 0, 0], metadata: { owner: 'a' } },
    ])
    await b.upsert(name, [{ id: 'same', vector: [0, 0, 1, 0], metadata: { owner: 'b' } }])

    expect((await a.get(name, ['same', 'only-a'])).map((r) => r.metadata?.owner)).toEqual(['a', 'a'])
    expect((await b.get(name, ['same', 'only-a'])).map((r) => r.metadata?.owner)).toEqual(['b'])
    expect(await a.count(name)).toBe(2)
    expect(await b.count(name)).toBe(1)
    expect(await b.count(name, { owner: 'a' })).toBe(0)
    expect((await collectAll(b, name)).map((r) => r.id)).toEqual(['same'])
    expect((await b.query(name, { vector: [0, 1, 0, 0], topK: 10 })).map((m) => m.id)).toEqual(['same'])
    expect(await b.delete(name, { ids: ['only-a'] })).toBe(0)
    expect(await b.delete(name, { filter: { owner: 'a' } })).toBe(0)
    expect(await a.count(name)).toBe(2)
    expect((await a.describeCollection(name))?.count).toBe(2)

    expect(server.namespaces('tenants')).toEqual(
      expect.arrayContaining([`engram:${name}:acme`, `engram:${name}:globex`]),
    )
    await a.close()
    await b.close()
  })

  it('tenant names map to distinct namespaces even when they look alike once escaped', async () => {
    const name = uniqueCollection()
    const tenants = [':', '%3A', 'a:b', 'a%3Ab', 'ü', 'x'.repeat(256), `${'x'.repeat(255)}y`, '']
    const stores = tenants.map((tenant) => storeOn(server, 'tenants', { tenant }))
    await stores[0]?.createCollection(name, { dimension: 4 })
    for (const [i, store] of stores.entries()) {
      await store.upsert(name, [{ id: 'r', vector: [1, i, 0, 0], metadata: { tenant: i } }])
    }
    for (const [i, store] of stores.entries()) {
      expect((await store.get(name, ['r']))[0]?.metadata).toEqual({ tenant: i })
      expect(await store.count(name)).toBe(1)
    }
    const namespaces = server.namespaces('tenants').filter((ns) => ns.startsWith(`engram:${name}:`))
    expect(namespaces).toHaveLength(tenants.length)
    for (const namespace of namespaces) expect(namespace.length).toBeLessThanOrEqual(512)
    for (const store of stores) await store.close()
  })

  it('a tenant’s dropCollection removes only its records; a store without tenant drops the collection for all', async () => {
    const name = uniqueCollection()
    const shared = storeOn(server, 'tenants')
    const a = storeOn(server, 'tenants', { tenant: 'acme' })
    const b = storeOn(server, 'tenants', { tenant: 'globex' })
    await shared.createCollection(name, { dimension: 4 })
    for (const store of [shared, a, b]) await store.upsert(name, [{ id: 'r', vector: [1, 0, 0, 0] }])

    await a.dropCollection(name)
    expect(await a.count(name)).toBe(0)
    expect(await b.count(name)).toBe(1)
    expect(await a.listCollections()).toContain(name)

    await shared.dropCollection(name)
    expect(await b.describeCollection(name)).toBeUndefined()
    expect(server.namespaces('tenants').filter((ns) => ns.startsWith(`engram:${name}:`))).toEqual([])
    for (const store of [shared, a, b]) await store.close()
  })

  it('stores with different namespace prefixes share nothing', async () => {
    const name = uniqueCollection()
    const left = storeOn(server, 'tenants', { namespacePrefix: 'left' })
    const right = storeOn(server, 'tenants', { namespacePrefix: 'right' })
    await left.createCollection(name, { dimension: 4 })
    expect(await right.describeCollection(name)).toBeUndefined()
    await expect(right.upsert(name, [{ id: 'r', vector: [1, 0, 0, 0] }])).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await left.close()
    await right.close()
  })

  it('refuses a tenant or prefix it cannot keep apart, before any request', () => {
    expect(() => storeOn(server, 'tenants', { tenant: 'x'.repeat(257) })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => storeOn(server, 'tenants', { namespacePrefix: 'a:b' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
