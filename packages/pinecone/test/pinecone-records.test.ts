import { describe, expect, it } from 'vitest'
import { failure, rawIndex, storeOn, uniqueCollection, useServer } from './pinecone-test-env.js'

const server = await useServer([
  { name: 'exact', dimension: 4 },
  { name: 'padded', dimension: 8 },
])

describe('Pinecone store: ids', () => {
  it('keeps printable ASCII ids as they are and maps the others to a hash, returning the engram id unchanged', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    const ids = [
      'plain-id_1:#',
      'with space',
      'héllo',
      '~starts-with-tilde',
      'x'.repeat(512),
      'é'.repeat(512),
    ]
    await store.upsert(
      name,
      ids.map((id, i) => ({ id, vector: [1, i, 0, 0] })),
    )
    const raw = rawIndex(server, 'exact')
    const listed = (await raw.listPaginated({ namespace: `engram:${name}:` })).vectors?.map((v) => v.id) ?? []
    expect(listed).toContain('plain-id_1:#')
    expect(listed).toContain('x'.repeat(512))
    const hashed = listed.filter((id) => id?.startsWith('~'))
    expect(hashed).toHaveLength(4)
    for (const id of hashed) expect(id).toMatch(/^~[A-Za-z0-9_-]{43}$/)
    const stored = await raw.fetch({ ids: hashed as string[], namespace: `engram:${name}:` })
    const originals = Object.values(stored.records).map((r) => r.metadata?.__engram_id)
    expect(originals.sort()).toEqual(['with space', 'héllo', '~starts-with-tilde', 'é'.repeat(512)].sort())
    expect((await store.get(name, ids)).map((r) => r.id)).toEqual(ids)
    const matches = await store.query(name, { vector: [1, 0, 0, 0], topK: 10 })
    expect(matches.map((m) => m.id).sort()).toEqual([...ids].sort())
    expect(await store.delete(name, { ids: ['héllo', '~starts-with-tilde'] })).toBe(2)
    expect(await store.count(name)).toBe(4)
    await store.close()
  })
})

describe('Pinecone store: metadata and text', () => {
  it('refuses a record past 40 KB of Pinecone metadata with INVALID_ARGUMENT and writes nothing of the batch', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    server.clearRequests()
    const error = await failure(() =>
      store.upsert(name, [
        { id: 'ok', vector: [1, 0, 0, 0], text: 'short' },
        { id: 'big', vector: [1, 0, 0, 0], text: 'x'.repeat(40_900), metadata: { note: 'y'.repeat(200) } },
      ]),
    )
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toContain('40 KB')
    expect(error.message).toContain('records[1]')
    expect(server.requests.filter((r) => r.operation === 'upsert')).toEqual([])
    expect(await store.count(name)).toBe(0)
    await store.close()
  })

  it('stores text and metadata just under the limit and returns them unchanged', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    const text = 'ü'.repeat(20_000) // 40,000 bytes of UTF-8
    await store.upsert(name, [
      { id: 'near-limit', vector: [0, 1, 0, 0], text, metadata: { tags: [], kind: 'k' } },
    ])
    const [record] = await store.get(name, ['near-limit'])
    expect(record?.text).toBe(text)
    expect(record?.metadata).toEqual({ tags: [], kind: 'k' })
    await store.close()
  })

  it('keeps its own fields out of reach: reserved metadata keys and filters on them are INVALID_ARGUMENT', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    const upsert = await failure(() =>
      store.upsert(name, [{ id: 'a', vector: [1, 0, 0, 0], metadata: { __engram_text: 'forged' } }]),
    )
    expect(upsert.code).toBe('INVALID_ARGUMENT')
    expect(upsert.message).toContain('reserves')
    const query = await failure(() =>
      store.query(name, { vector: [1, 0, 0, 0], filter: { __engram_text: 'x' } }),
    )
    expect(query.code).toBe('INVALID_ARGUMENT')
    await store.close()
  })

  it('sends no request for a filter that can match nothing', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    await store.upsert(name, [{ id: 'a', vector: [1, 0, 0, 0], metadata: { k: 'v' } }])
    server.clearRequests()
    expect(await store.query(name, { vector: [1, 0, 0, 0], filter: { k: { $in: [] } } })).toEqual([])
    expect(server.requests.filter((r) => r.operation === 'query')).toEqual([])
    await store.close()
  })
})

describe('Pinecone store: dimensions', () => {
  it('without padSmallerDimensions, a collection must have the index dimension', async () => {
    const store = storeOn(server, 'padded')
    for (const dimension of [4, 9]) {
      const error = await failure(() => store.createCollection(uniqueCollection(), { dimension }))
      expect(error.code).toBe('DIMENSION_MISMATCH')
      expect(error.message).toContain('has 8 dimensions')
    }
    await store.createCollection(uniqueCollection(), { dimension: 8 })
    await store.close()
  })

  it('a metric the index does not use is UNSUPPORTED', async () => {
    const store = storeOn(server, 'exact')
    const error = await failure(() =>
      store.createCollection(uniqueCollection(), { dimension: 4, metric: 'dot' }),
    )
    expect(error.code).toBe('UNSUPPORTED')
    await store.close()
  })

  it('an all-zero vector in a collection of the index dimension is INVALID_ARGUMENT, since Pinecone refuses it', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    const error = await failure(() =>
      store.upsert(name, [
        { id: 'fine', vector: [1, 0, 0, 0] },
        { id: 'zero', vector: [0, 0, 0, 0] },
      ]),
    )
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toContain('all zeros')
    expect(await store.count(name)).toBe(0)
    await store.close()
  })

  it('with padSmallerDimensions, smaller vectors are zero-padded in the index and come back at their own dimension', async () => {
    const store = storeOn(server, 'padded', { padSmallerDimensions: true })
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 3 })
    await store.upsert(name, [
      { id: 'a', vector: [0.5, -1, 2] },
      { id: 'zero', vector: [0, 0, 0] },
    ])
    const raw = await rawIndex(server, 'padded').fetch({ ids: ['a'], namespace: `engram:${name}:` })
    expect(raw.records.a?.values).toEqual([0.5, -1, 2, 0, 0, 0, 0, 0])
    const records = await store.get(name, ['a', 'zero'])
    expect(records.map((r) => Array.from(r.vector))).toEqual([
      [0.5, -1, 2],
      [0, 0, 0],
    ])
    const matches = await store.query(name, { vector: [1, 0, 0], topK: 2, includeVectors: true })
    expect(matches.find((m) => m.id === 'zero')?.score).toBe(0)
    expect(matches.every((m) => m.vector?.length === 3)).toBe(true)
    await store.close()
  })
})

describe('Pinecone store: collections across store instances', () => {
  it('a collection made by one store is listed and described by another, and a drop by either is seen by both', async () => {
    const first = storeOn(server, 'exact')
    const second = storeOn(server, 'exact')
    const name = uniqueCollection()
    await first.createCollection(name, { dimension: 4 })
    await first.upsert(name, [{ id: 'a', vector: [1, 0, 0, 0] }])
    expect(await second.listCollections()).toContain(name)
    expect(await second.describeCollection(name)).toEqual({ name, dimension: 4, metric: 'cosine', count: 1 })
    await second.dropCollection(name)
    expect(await first.describeCollection(name)).toBeUndefined()
    expect(await first.listCollections()).not.toContain(name)
    expect(server.namespaces('exact')).not.toContain(`engram:${name}:`)
    await first.close()
    await second.close()
  })

  it('never counts the registry record as a record', async () => {
    const store = storeOn(server, 'exact')
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 4 })
    expect(await store.count(name)).toBe(0)
    expect(await store.query(name, { vector: [1, 0, 0, 0], topK: 10 })).toEqual([])
    await store.close()
  })
})
