import { isStorageError, reciprocalRankFusion, type StorageErrorCode, type VectorStore } from '@engram/core'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createQdrantVectorStore, type QdrantVectorStoreConfig } from '../src/index.js'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

let target: QdrantTarget
let client: QdrantClient
const opened: Array<{ store: VectorStore; prefix: string }> = []

function open(extra: Partial<QdrantVectorStoreConfig> = {}): { store: VectorStore; prefix: string } {
  const prefix = extra.collectionPrefix ?? target.prefix()
  const entry = { store: target.open({ ...extra, collectionPrefix: prefix }), prefix }
  opened.push(entry)
  return entry
}

async function codeOf(action: () => unknown): Promise<StorageErrorCode | undefined> {
  try {
    await action()
  } catch (error) {
    if (isStorageError(error)) return error.code
    throw error
  }
  return undefined
}

beforeAll(async () => {
  target = await startTarget()
  client = new QdrantClient({
    url: target.url,
    checkCompatibility: false,
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
  })
})

afterEach(async () => {
  for (const { store, prefix } of opened.splice(0)) {
    await store.close()
    const { collections } = await client.getCollections()
    for (const { name } of collections) if (name.startsWith(prefix)) await client.deleteCollection(name)
  }
})

afterAll(async () => {
  await target.stop()
})

describe('configuration', () => {
  it('constructing a store sends nothing, even for an unreachable server; the first call does', async (ctx) => {
    expect(() => createQdrantVectorStore({ url: 'http://127.0.0.1:9' })).not.toThrow()
    const server = target.server
    ctx.skip(server === undefined, 'counting requests needs the test server')
    if (server === undefined) return
    server.clearRequests()
    const { store } = open()
    await new Promise((resolve) => setImmediate(resolve))
    expect(server.requests).toEqual([])
    await store.listCollections()
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /collections'])
  })

  it('passes HNSW, quantization, on-disk and shard settings to new collections, with the sparse text vector and IDF', async () => {
    const { store, prefix } = open({
      m: 32,
      efConstruction: 200,
      quantization: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
      onDisk: true,
      shardNumber: 2,
    })
    await store.createCollection('tuned', { dimension: 8, metric: 'dot' })
    const { config } = await client.getCollection(`${prefix}tuned`)
    expect(config.params.vectors).toMatchObject({ dense: { size: 8, distance: 'Dot', on_disk: true } })
    expect(config.params.sparse_vectors).toMatchObject({ text: { modifier: 'idf' } })
    expect(config.params.shard_number).toBe(2)
    expect(config.hnsw_config).toMatchObject({ m: 32, ef_construct: 200 })
    expect(config.quantization_config).toEqual({ scalar: { type: 'int8', quantile: 0.99, always_ram: true } })
  })

  it("uses core's HNSW defaults (m 16, ef_construct 128) when none are given", async () => {
    const { store, prefix } = open()
    await store.createCollection('plain', { dimension: 4 })
    const { config } = await client.getCollection(`${prefix}plain`)
    expect(config.hnsw_config).toMatchObject({ m: 16, ef_construct: 128 })
    expect(config.params.vectors).toMatchObject({ dense: { size: 4, distance: 'Cosine' } })
  })

  it('hybrid: false makes collections without the sparse vector; a hybrid store then refuses text there', async () => {
    const { store, prefix } = open({ hybrid: false })
    expect(store.capabilities.hybrid).toBe(false)
    await store.createCollection('vectors-only', { dimension: 2 })
    expect((await client.getCollection(`${prefix}vectors-only`)).config.params.sparse_vectors ?? {}).toEqual(
      {},
    )
    await store.upsert('vectors-only', [{ id: 'a', vector: [1, 0], text: 'kept as text' }])
    expect((await store.get('vectors-only', ['a']))[0]?.text).toBe('kept as text')
    const { store: hybrid } = open({ collectionPrefix: prefix })
    expect(await codeOf(() => hybrid.query('vectors-only', { text: 'kept', mode: 'text' }))).toBe(
      'UNSUPPORTED',
    )
    expect((await hybrid.query('vectors-only', { vector: [1, 0] })).map((m) => m.id)).toEqual(['a'])
  })

  it('refuses bad options with INVALID_ARGUMENT', async () => {
    const bad: QdrantVectorStoreConfig[] = [
      {},
      { url: 'localhost:6333' },
      { url: target.url, collectionPrefix: 'has space' },
      { url: target.url, m: -1 },
      { url: target.url, exactBelow: 1.5 },
      { url: target.url, tenant: 'nul\u0000' },
      { url: target.url, quantization: 'int8' as never },
      { url: target.url, hybrid: 'false' as never },
      { url: target.url, onDisk: 1 as never },
    ]
    for (const config of bad)
      expect(await codeOf(() => createQdrantVectorStore(config))).toBe('INVALID_ARGUMENT')
  })

  it('uses a given client and leaves it open after close()', async () => {
    const given = new QdrantClient({
      url: target.url,
      checkCompatibility: false,
      ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    })
    const prefix = target.prefix()
    const store = createQdrantVectorStore({ client: given, collectionPrefix: prefix })
    opened.push({ store, prefix })
    await store.createCollection('mine', { dimension: 2 })
    await store.close()
    expect(await codeOf(() => store.listCollections())).toBe('CLOSED')
    expect((await given.getCollections()).collections.map((c) => c.name)).toContain(`${prefix}mine`)
  })
})

describe('collections live in Qdrant, not in the store', () => {
  it('a second store sees the dimension, metric and text search of collections the first made', async () => {
    const { store, prefix } = open()
    await store.createCollection('shared', { dimension: 3, metric: 'euclidean' })
    await store.upsert('shared', [{ id: 'a', vector: [1, 2, 3], text: 'granite quarry' }])
    const { store: other } = open({ collectionPrefix: prefix })
    expect(await other.describeCollection('shared')).toEqual({
      name: 'shared',
      dimension: 3,
      metric: 'euclidean',
      count: 1,
    })
    expect(await codeOf(() => other.createCollection('shared', { dimension: 3, metric: 'cosine' }))).toBe(
      'DIMENSION_MISMATCH',
    )
    expect((await other.query('shared', { text: 'granite', mode: 'text' })).map((m) => m.id)).toEqual(['a'])
  })

  it('lists only collections with its prefix, and refuses one with the prefix that engram did not make', async () => {
    const { store, prefix } = open()
    await store.createCollection('ours', { dimension: 2 })
    await client.createCollection(`${prefix}foreign`, { vectors: { size: 2, distance: 'Cosine' } })
    await client.createCollection(`${prefix}bad.name`, { vectors: { size: 2, distance: 'Cosine' } })
    expect(await store.listCollections()).toEqual(['foreign', 'ours'])
    expect(await codeOf(() => store.describeCollection('foreign'))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(() => store.createCollection('foreign', { dimension: 2 }))).toBe('INVALID_ARGUMENT')
  })
})

describe('search', () => {
  it("hybrid with a fractional rrfK equals core's reciprocalRankFusion over the store's own lists", async () => {
    const { store } = open()
    await store.createCollection('fuse', { dimension: 2 })
    await store.upsert(
      'fuse',
      Array.from({ length: 12 }, (_, i) => ({
        id: `r${i}`,
        vector: [Math.cos(i), Math.sin(i)],
        ...(i % 3 === 0 ? {} : { text: i % 2 === 0 ? 'lantern harbour' : 'harbour' }),
      })),
    )
    const vectorList = await store.query('fuse', { vector: [1, 0], mode: 'vector', topK: 12 })
    const textList = await store.query('fuse', { text: 'lantern harbour', mode: 'text', topK: 12 })
    const expected = reciprocalRankFusion([vectorList, textList], { k: 0.5 })
    const hybrid = await store.query('fuse', { vector: [1, 0], text: 'lantern harbour', rrfK: 0.5, topK: 12 })
    expect(hybrid.map((m) => m.id)).toEqual(expected.map((e) => e.id))
    hybrid.forEach((match, i) => {
      expect(match.score).toBeCloseTo(expected[i]?.score as number, 9)
    })
  })

  it('a text with no words finds nothing, and hybrid then ranks by the vector alone', async () => {
    const { store } = open()
    await store.createCollection('words', { dimension: 2 })
    await store.upsert('words', [
      { id: 'near', vector: [1, 0], text: 'alpha' },
      { id: 'far', vector: [0, 1], text: 'beta' },
    ])
    expect(await store.query('words', { text: '?!', mode: 'text' })).toEqual([])
    const hybrid = await store.query('words', { vector: [1, 0], text: '?!' })
    expect(hybrid.map((m) => m.id)).toEqual(['near', 'far'])
    expect(hybrid[0]?.score).toBeCloseTo(1 / 61, 9)
  })

  it('below exactBelow searches ask Qdrant for exact search; from there on for HNSW with hnsw_ef = max(efSearch, topK)', async (ctx) => {
    const server = target.server
    ctx.skip(server === undefined, 'reading the requests needs the test server')
    if (server === undefined) return
    const { store: small } = open({ exactBelow: 3 })
    await small.createCollection('sizes', { dimension: 2 })
    await small.upsert('sizes', [
      { id: 'a', vector: [1, 0] },
      { id: 'b', vector: [0, 1] },
    ])
    const params = async (store: VectorStore, topK: number) => {
      server.clearRequests()
      await store.query('sizes', { vector: [1, 0], topK })
      const request = server.requests.find((r) => r.path.endsWith('/points/query'))
      return (request?.body as { params?: unknown } | undefined)?.params
    }
    expect(await params(small, 5)).toEqual({ exact: true })
    await small.upsert('sizes', [{ id: 'c', vector: [1, 1] }])
    expect(await params(small, 5)).toEqual({ hnsw_ef: 64 })
    expect(await params(small, 100)).toEqual({ hnsw_ef: 100 })
  })

  it('hybrid asks for both candidate lists in one query/batch request, then fetches only the winners', async (ctx) => {
    const server = target.server
    ctx.skip(server === undefined, 'reading the requests needs the test server')
    if (server === undefined) return
    const { store } = open({ hybridCandidates: 50 })
    await store.createCollection('two', { dimension: 2 })
    await store.upsert('two', [
      { id: 'a', vector: [1, 0], text: 'quartz' },
      { id: 'b', vector: [0, 1], text: 'quartz crystal' },
      { id: 'c', vector: [1, 1] },
    ])
    server.clearRequests()
    await store.query('two', { vector: [1, 0], text: 'crystal', topK: 2 })
    const paths = server.requests.map((r) => `${r.method} ${r.path.replace(/^\/collections\/[^/]+/, '')}`)
    expect(paths).toEqual(['GET ', 'POST /points/query/batch', 'POST /points'])
    const batch = server.requests[1]?.body as {
      searches: Array<{ using: string; limit: number; with_payload: unknown }>
    }
    expect(batch.searches.map((s) => [s.using, s.limit])).toEqual([
      ['dense', 50],
      ['text', 50],
    ])
    expect((server.requests[2]?.body as { ids?: unknown[] } | undefined)?.ids).toHaveLength(2)
  })
})

describe('writes', () => {
  it('upserts in batches of at most 256 points, each with wait=true', async (ctx) => {
    const server = target.server
    ctx.skip(server === undefined, 'reading the requests needs the test server')
    if (server === undefined) return
    const { store } = open()
    await store.createCollection('bulk', { dimension: 4 })
    server.clearRequests()
    await store.upsert(
      'bulk',
      Array.from({ length: 600 }, (_, i) => ({ id: `p${i}`, vector: [i, 1, 0, 0], text: `row ${i}` })),
    )
    const upserts = server.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/points'))
    expect(upserts.map((r) => (r.body as { points: unknown[] }).points.length)).toEqual([256, 256, 88])
    for (const request of upserts) expect(request.query.wait).toBe('true')
    expect(await store.count('bulk')).toBe(600)
  })

  it('delete counts exactly what it removes, by ids and by filter', async () => {
    const { store } = open()
    await store.createCollection('gone', { dimension: 2 })
    await store.upsert(
      'gone',
      Array.from({ length: 10 }, (_, i) => ({
        id: `g${i}`,
        vector: [1, i],
        metadata: { even: i % 2 === 0 },
      })),
    )
    expect(await store.delete('gone', { ids: ['g1', 'g2', 'g2', 'missing'] })).toBe(2)
    expect(await store.delete('gone', { filter: { even: true } })).toBe(4)
    expect(await store.delete('gone', { filter: { even: true } })).toBe(0)
    expect(await store.count('gone')).toBe(4)
  })
})
