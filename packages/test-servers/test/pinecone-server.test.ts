import { type Index, Pinecone, type PineconeRecord } from '@pinecone-database/pinecone'
import { X_PINECONE_API_VERSION } from '@pinecone-database/pinecone/dist/pinecone-generated-ts-fetch/db_data/index.js'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  PINECONE_API_VERSION,
  type PineconeTestServer,
  startPineconeTestServer,
} from '../src/pinecone/index.js'

let server: PineconeTestServer
let client: Pinecone

beforeAll(async () => {
  server = await startPineconeTestServer({
    indexes: [
      { name: 'cos', dimension: 3 },
      { name: 'dot', dimension: 3, metric: 'dotproduct' },
      { name: 'l2', dimension: 3, metric: 'euclidean' },
      { name: 'pods', dimension: 3, deployment: 'pod' },
    ],
  })
  client = new Pinecone({ apiKey: server.apiKey, controllerHostUrl: server.url, maxRetries: 0 })
})

afterAll(async () => {
  await server?.close()
})

beforeEach(() => server.clearRequests())

/** An index handle on the test server, addressed by host so no lookup is cached between tests. */
function index(name: string, namespace = `ns-${Math.random().toString(36).slice(2)}`): Index {
  return client.index({ host: server.hostOf(name), namespace })
}

async function rejection(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected the call to fail')
}

describe('Pinecone test server: protocol', () => {
  it('speaks the API version the installed client sends', () => {
    expect(X_PINECONE_API_VERSION).toBe(PINECONE_API_VERSION)
  })

  it('describeIndex reports the dimension, metric, host and a ready serverless spec', async () => {
    const model = await client.describeIndex('dot')
    expect(model).toMatchObject({
      name: 'dot',
      dimension: 3,
      metric: 'dotproduct',
      host: server.hostOf('dot'),
    })
    expect(model.status).toEqual({ ready: true, state: 'Ready' })
    expect(model.spec).toHaveProperty('serverless')
    expect((await client.describeIndex('pods')).spec).toHaveProperty('pod')
  })

  it('listIndexes lists every hosted index', async () => {
    const names = (await client.listIndexes()).indexes?.map((i) => i.name)
    expect(names?.sort()).toEqual(['cos', 'dot', 'l2', 'pods'])
  })

  it('describeIndex of an unknown index is a 404', async () => {
    const error = await rejection(() => client.describeIndex('missing'))
    expect(error.name).toBe('PineconeNotFoundError')
  })

  it('a wrong API key is a 401 on both planes', async () => {
    const stranger = new Pinecone({ apiKey: 'wrong', controllerHostUrl: server.url, maxRetries: 0 })
    expect((await rejection(() => stranger.describeIndex('cos'))).name).toBe('PineconeAuthorizationError')
    const data = stranger.index({ host: server.hostOf('cos') })
    expect((await rejection(() => data.describeIndexStats())).name).toBe('PineconeAuthorizationError')
    expect(server.requests.map((r) => r.status)).toEqual([401, 401])
  })

  it('another API version is refused with a 400 that names the supported one', async () => {
    // The client always sends its own version, so an older client is imitated in its fetch.
    const olderFetch: typeof fetch = (input, init) =>
      fetch(input, {
        ...init,
        headers: { ...(init?.headers as Record<string, string>), 'X-Pinecone-Api-Version': '2024-07' },
      })
    const old = new Pinecone({
      apiKey: server.apiKey,
      controllerHostUrl: server.url,
      maxRetries: 0,
      fetchApi: olderFetch,
    })
    const error = await rejection(() => old.index({ host: server.hostOf('cos') }).describeIndexStats())
    expect(error.name).toBe('PineconeBadRequestError')
    expect(error.message).toContain(PINECONE_API_VERSION)
  })

  it('an injected 429 reaches the client with its status, and an injected 503 is retried by the client', async () => {
    const target = index('cos')
    server.failNext('describeIndexStats', { status: 429 })
    const limited = await rejection(() => target.describeIndexStats())
    expect(limited.message).toContain('Status: 429')
    const retrying = new Pinecone({ apiKey: server.apiKey, controllerHostUrl: server.url, maxRetries: 1 })
    server.failNext('describeIndexStats', { status: 503 })
    server.clearRequests()
    await retrying.index({ host: server.hostOf('cos') }).describeIndexStats()
    expect(server.requests.map((r) => r.status)).toEqual([503, 200])
  })
})

describe('Pinecone test server: records', () => {
  it('upsert then fetch returns float32 values and the metadata; missing ids are left out', async () => {
    const target = index('cos')
    await target.upsert({
      records: [
        { id: 'a', values: [0.1, 2, -3], metadata: { genre: 'drama', tags: ['x', 'y'], n: 2, ok: true } },
      ],
    })
    const { records } = await target.fetch({ ids: ['a', 'missing'] })
    expect(Object.keys(records)).toEqual(['a'])
    expect(records.a?.values).toEqual([Math.fround(0.1), 2, -3])
    expect(records.a?.metadata).toEqual({ genre: 'drama', tags: ['x', 'y'], n: 2, ok: true })
  })

  it('cosine and dotproduct rank by descending score; euclidean answers the squared distance, ascending', async () => {
    const records = [
      { id: 'near', values: [1, 0, 0] },
      { id: 'far', values: [3, 4, 0] },
    ]
    const cos = index('cos')
    const dot = index('dot')
    const l2 = index('l2')
    for (const target of [cos, dot, l2]) await target.upsert({ records })
    const cosine = await cos.query({ vector: [1, 0, 0], topK: 2 })
    expect(cosine.matches.map((m) => [m.id, m.score])).toEqual([
      ['near', 1],
      ['far', Math.fround(0.6)],
    ])
    const product = await dot.query({ vector: [1, 1, 0], topK: 2 })
    expect(product.matches.map((m) => [m.id, m.score])).toEqual([
      ['far', 7],
      ['near', 1],
    ])
    const distance = await l2.query({ vector: [0, 0, 0], topK: 2 })
    expect(distance.matches.map((m) => [m.id, m.score])).toEqual([
      ['near', 1],
      ['far', 25],
    ])
  })

  it('query returns values and metadata only when asked', async () => {
    const target = index('cos')
    await target.upsert({ records: [{ id: 'a', values: [1, 2, 3], metadata: { k: 'v' } }] })
    const [bare] = (await target.query({ vector: [1, 2, 3], topK: 1 })).matches
    expect(bare).toEqual({ id: 'a', score: 1 })
    const [full] = (
      await target.query({ vector: [1, 2, 3], topK: 1, includeValues: true, includeMetadata: true })
    ).matches
    expect(full).toMatchObject({ id: 'a', values: [1, 2, 3], metadata: { k: 'v' } })
  })

  it('list pages through ids in byte order with a pagination token', async () => {
    const target = index('cos')
    const ids = ['b', 'a', 'C', 'd', 'e']
    await target.upsert({ records: ids.map((id, i) => ({ id, values: [1, i, 0] })) })
    const seen: string[] = []
    let token: string | undefined
    do {
      const page = await target.listPaginated({ limit: 2, ...(token ? { paginationToken: token } : {}) })
      expect(page.vectors?.length).toBeLessThanOrEqual(2)
      seen.push(...(page.vectors ?? []).map((v) => v.id as string))
      token = page.pagination?.next
    } while (token)
    expect(seen).toEqual(['C', 'a', 'b', 'd', 'e'])
    expect((await rejection(() => target.listPaginated({ limit: 101 }))).name).toBe('PineconeBadRequestError')
  })

  it('fetchByMetadata pages through the matching records', async () => {
    const target = index('cos')
    await target.upsert({
      records: Array.from({ length: 7 }, (_, i) => ({
        id: `r${i}`,
        values: [1, i, 0],
        metadata: { even: i % 2 === 0 },
      })),
    })
    const found: string[] = []
    let token: string | undefined
    do {
      const page = await target.fetchByMetadata({
        filter: { even: true },
        limit: 3,
        ...(token ? { paginationToken: token } : {}),
      })
      found.push(...Object.keys(page.records))
      token = page.pagination?.next
    } while (token)
    expect(found.sort()).toEqual(['r0', 'r2', 'r4', 'r6'])
  })

  it('delete by ids, by filter and all; deleting in a namespace that does not exist is a 404', async () => {
    const target = index('cos')
    await target.upsert({
      records: ['a', 'b', 'c', 'd'].map((id, i) => ({
        id,
        values: [1, i, 0],
        metadata: { group: i < 2 ? 'x' : 'y' },
      })),
    })
    await target.deleteMany({ ids: ['a', 'missing'] })
    await target.deleteMany({ filter: { group: 'y' } })
    expect(Object.keys((await target.fetch({ ids: ['a', 'b', 'c', 'd'] })).records)).toEqual(['b'])
    await target.deleteAll()
    expect((await target.fetch({ ids: ['b'] })).records).toEqual({})
    expect((await rejection(() => index('cos').deleteMany({ ids: ['a'] }))).name).toBe(
      'PineconeNotFoundError',
    )
  })

  it('describeIndexStats counts each namespace and refuses a filter on a serverless index', async () => {
    const namespace = `stats-${Math.random().toString(36).slice(2)}`
    const target = index('l2', namespace)
    await target.upsert({ records: [1, 2, 3].map((n) => ({ id: `r${n}`, values: [n, 0, 0] })) })
    const stats = await target.describeIndexStats()
    expect(stats.namespaces?.[namespace]).toEqual({ recordCount: 3 })
    expect(stats.dimension).toBe(3)
    const error = await rejection(() => target.describeIndexStats({ filter: { a: 'b' } }))
    expect(error.message).toContain('do not support')
  })

  it('namespaces are listed by prefix, described with their record count and deleted', async () => {
    const prefix = `p${Math.random().toString(36).slice(2)}:`
    for (const suffix of ['one', 'two']) {
      await index('cos', prefix + suffix).upsert({ records: [{ id: 'x', values: [1, 0, 0] }] })
    }
    const listed = await client.index({ host: server.hostOf('cos') }).listNamespaces({ prefix, limit: 1 })
    expect(listed.namespaces?.map((n) => n.name)).toEqual([`${prefix}one`])
    expect(listed.totalCount).toBe(2)
    expect(listed.pagination?.next).toBeDefined()
    const data = client.index({ host: server.hostOf('cos') })
    expect(await data.describeNamespace(`${prefix}two`)).toMatchObject({
      name: `${prefix}two`,
      recordCount: 1,
    })
    await data.deleteNamespace(`${prefix}two`)
    expect((await rejection(() => data.describeNamespace(`${prefix}two`))).name).toBe('PineconeNotFoundError')
    expect((await rejection(() => data.deleteNamespace(`${prefix}two`))).name).toBe('PineconeNotFoundError')
  })

  it('pod-based indexes refuse list', async () => {
    const error = await rejection(() => index('pods').listPaginated())
    expect(error.message).toContain('pod-based')
  })
})

describe('Pinecone test server: limits', () => {
  it('refuses more than 1,000 vectors in one upsert and stores nothing', async () => {
    const target = index('cos')
    const records = Array.from({ length: 1_001 }, (_, i) => ({ id: `r${i}`, values: [1, i, 0] }))
    expect((await rejection(() => target.upsert({ records }))).message).toContain('1000')
    expect((await target.fetch({ ids: ['r0'] })).records).toEqual({})
  })

  it('refuses a request body over 2 MB', async () => {
    const target = index('cos')
    const text = 'x'.repeat(30_000)
    const records = Array.from({ length: 80 }, (_, i) => ({
      id: `r${i}`,
      values: [1, i, 0],
      metadata: { text },
    }))
    expect((await rejection(() => target.upsert({ records }))).message).toContain('2MB')
    expect(server.requests.at(-1)?.bodyBytes).toBeGreaterThan(2_000_000)
  })

  it('refuses metadata over 40 KB, naming its size', async () => {
    const target = index('cos')
    const record = { id: 'big', values: [1, 0, 0], metadata: { text: 'x'.repeat(40_960) } }
    expect((await rejection(() => target.upsert({ records: [record] }))).message).toContain('40960 bytes')
  })

  it('refuses an all-zero vector and a vector of the wrong dimension', async () => {
    const target = index('cos')
    expect(
      (await rejection(() => target.upsert({ records: [{ id: 'z', values: [0, 0, 0] }] }))).message,
    ).toContain('at least one non-zero value')
    expect(
      (await rejection(() => target.upsert({ records: [{ id: 'w', values: [1, 0] }] }))).message,
    ).toContain('does not match the dimension of the index 3')
  })

  it('refuses fetch ids that contain spaces, and non-ASCII record ids', async () => {
    const target = index('cos')
    expect((await rejection(() => target.fetch({ ids: ['a b'] }))).message).toContain('spaces')
    const error = await rejection(() => target.upsert({ records: [{ id: 'héllo', values: [1, 0, 0] }] }))
    expect(error.message).toContain('ASCII')
  })
})

describe('Pinecone test server: filters', () => {
  const records: PineconeRecord[] = [
    { id: 'list', values: [1, 0, 0], metadata: { tags: ['a', 'b'], n: 1 } },
    { id: 'scalar', values: [1, 1, 0], metadata: { tags: 'a', n: '1', flag: true } },
    { id: 'other', values: [1, 2, 0], metadata: { tags: ['c'], n: 5, flag: 1 } },
    { id: 'bare', values: [1, 3, 0] },
  ]
  let target: Index

  beforeAll(async () => {
    target = index('cos')
    await target.upsert({ records })
  })

  async function ids(filter: object): Promise<string[]> {
    return (await target.query({ vector: [1, 0, 0], topK: 10, filter })).matches.map((m) => m.id).sort()
  }

  it('$eq and $in match a list when any element matches', async () => {
    expect(await ids({ tags: 'a' })).toEqual(['list', 'scalar'])
    expect(await ids({ tags: { $in: ['b', 'c'] } })).toEqual(['list', 'other'])
  })

  it('$ne and $nin match a list only when no element matches, and never a record without the field', async () => {
    expect(await ids({ tags: { $ne: 'a' } })).toEqual(['other'])
    expect(await ids({ tags: { $nin: ['c'] } })).toEqual(['list', 'scalar'])
  })

  it('values never convert between types', async () => {
    expect(await ids({ n: 1 })).toEqual(['list'])
    expect(await ids({ n: '1' })).toEqual(['scalar'])
    expect(await ids({ flag: true })).toEqual(['scalar'])
    expect(await ids({ flag: { $gte: 1 } })).toEqual(['other'])
  })

  it('$exists, $and and $or combine', async () => {
    expect(await ids({ flag: { $exists: false } })).toEqual(['bare', 'list'])
    expect(
      await ids({ $or: [{ n: { $gt: 4 } }, { $and: [{ tags: 'a' }, { flag: { $exists: false } }] }] }),
    ).toEqual(['list', 'other'])
  })

  it('refuses string range bounds, booleans in $in, lists as values and unknown operators', async () => {
    for (const filter of [
      { n: { $gt: 'a' } },
      { flag: { $in: [true] } },
      { tags: ['a'] },
      { n: { $regex: 'x' } },
    ]) {
      expect((await rejection(() => ids(filter))).name).toBe('PineconeBadRequestError')
    }
  })
})
