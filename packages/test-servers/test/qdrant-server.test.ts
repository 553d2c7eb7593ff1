import { QdrantClient, type Schemas } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type QdrantTestServer, startQdrantTestServer } from '../src/qdrant/index.js'

// The server's semantics, checked through the real client: what @engram/qdrant relies on must
// behave as Qdrant documents it (and as its source code does), or the store's tests prove nothing.
let server: QdrantTestServer
let client: QdrantClient
let n = 0
const fresh = () => `c${n++}`

beforeAll(async () => {
  server = await startQdrantTestServer()
  client = new QdrantClient({ url: server.url, checkCompatibility: false })
})

afterAll(async () => {
  await server.close()
})

beforeEach(() => {
  server.clearRequests()
})

/** The HTTP status and Qdrant's `status.error` text of a failed client call. */
async function failure(call: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await call
  } catch (error) {
    const { status, data } = error as { status: number; data: { status?: { error?: string } } | string }
    return { status, message: typeof data === 'string' ? data : (data.status?.error ?? '') }
  }
  throw new Error('expected the call to fail')
}

async function collectionOf(distance: Schemas['Distance'], size = 2, sparse = false): Promise<string> {
  const name = fresh()
  await client.createCollection(name, {
    vectors: { dense: { size, distance } },
    ...(sparse ? { sparse_vectors: { text: { modifier: 'idf' } } } : {}),
  })
  return name
}

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`

describe('envelope and errors', () => {
  it('answers with { result, status: "ok", time }', async () => {
    const response = await fetch(`${server.url}/collections`)
    expect(response.status).toBe(200)
    const body = (await response.json()) as { result: unknown; status: unknown; time: unknown }
    expect(body.status).toBe('ok')
    expect(typeof body.time).toBe('number')
    expect(body.result).toHaveProperty('collections')
  })

  it('answers a missing collection with 404 and Qdrant\'s "Not found" error body', async () => {
    const response = await fetch(`${server.url}/collections/nope`)
    expect(response.status).toBe(404)
    const body = (await response.json()) as { status: { error: string }; time: number; result?: unknown }
    expect(body.status.error).toBe("Not found: Collection `nope` doesn't exist!")
    expect(body).not.toHaveProperty('result')
  })

  it('refuses to create an existing collection with 409', async () => {
    const name = await collectionOf('Cosine')
    const { status, message } = await failure(
      client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } }),
    )
    expect(status).toBe(409)
    expect(message).toBe(`Wrong input: Collection \`${name}\` already exists!`)
  })

  it('refuses a vector of the wrong dimension with 400 naming both dimensions', async () => {
    const name = await collectionOf('Dot', 2)
    const { status, message } = await failure(
      client.upsert(name, { wait: true, points: [{ id: 1, vector: { dense: [1, 2, 3] } }] }),
    )
    expect(status).toBe(400)
    expect(message).toBe('Wrong input: Vector dimension error: expected dim: 2, got 3')
    expect((await client.count(name)).count).toBe(0)
  })

  it('refuses a point id that is neither an unsigned integer nor a UUID', async () => {
    const name = await collectionOf('Dot')
    const { status, message } = await failure(
      client.upsert(name, { wait: true, points: [{ id: 'user:42', vector: { dense: [1, 0] } }] }),
    )
    expect(status).toBe(400)
    expect(message).toContain('valid values are either an unsigned integer or a UUID')
  })

  it('refuses a filter with an unknown field instead of ignoring it', async () => {
    const name = await collectionOf('Dot')
    const { status } = await failure(
      client.count(name, { filter: { must: [], mustnot: [] } as Schemas['Filter'] }),
    )
    expect(status).toBe(400)
  })

  it('says plainly when a feature is outside what it implements', async () => {
    const name = await collectionOf('Dot')
    const { status, message } = await failure(
      client.count(name, { filter: { must: [{ key: 'a', range: { gt: '2024-01-01T00:00:00Z' } }] } }),
    )
    expect(status).toBe(400)
    expect(message).toContain("engram's Qdrant test server does not implement datetime ranges")
  })
})

describe('authentication and injected faults', () => {
  it('answers 401 in plain text without the API key or with a wrong one', async () => {
    const guarded = await startQdrantTestServer({ apiKey: 'secret' })
    try {
      const missing = await fetch(`${guarded.url}/collections`)
      expect(missing.status).toBe(401)
      expect(await missing.text()).toBe('Must provide an API key or an Authorization bearer token')
      const wrong = await fetch(`${guarded.url}/collections`, { headers: { 'api-key': 'nope' } })
      expect(wrong.status).toBe(401)
      expect(await wrong.text()).toBe('Invalid API key or JWT')
      const bearer = await fetch(`${guarded.url}/collections`, {
        headers: { authorization: 'Bearer secret' },
      })
      expect(bearer.status).toBe(200)
    } finally {
      await guarded.close()
    }
  })

  it('fails the next matching requests with the injected status, then recovers', async () => {
    server.failNext({
      status: 429,
      times: 2,
      match: /^GET \/collections$/,
      message: 'Rate limiting exceeded: slow down',
    })
    const first = await fetch(`${server.url}/collections`)
    expect(first.status).toBe(429)
    expect(((await first.json()) as { status: { error: string } }).status.error).toBe(
      'Rate limiting exceeded: slow down',
    )
    expect((await fetch(`${server.url}/collections/x`)).status).toBe(404)
    expect((await fetch(`${server.url}/collections`)).status).toBe(429)
    expect((await fetch(`${server.url}/collections`)).status).toBe(200)
  })

  it('records each request with its method, path, query and body', async () => {
    const name = await collectionOf('Dot')
    await client.upsert(name, { wait: true, points: [{ id: 7, vector: { dense: [1, 0] } }] })
    const upsert = server.requests.find((r) => r.method === 'PUT' && r.path === `/collections/${name}/points`)
    expect(upsert?.query).toEqual({ wait: 'true' })
    expect(upsert?.body).toEqual({ points: [{ id: 7, vector: { dense: [1, 0] } }] })
  })
})

describe('vectors and scores', () => {
  it('stores Cosine vectors normalised to length 1 and leaves zero vectors alone', async () => {
    const name = await collectionOf('Cosine')
    await client.upsert(name, {
      wait: true,
      points: [
        { id: 1, vector: { dense: [3, 4] } },
        { id: 2, vector: { dense: [0, 0] } },
      ],
    })
    const points = await client.retrieve(name, { ids: [1, 2], with_vector: true })
    expect(points.find((p) => p.id === 1)?.vector).toEqual({ dense: [Math.fround(0.6), Math.fround(0.8)] })
    expect(points.find((p) => p.id === 2)?.vector).toEqual({ dense: [0, 0] })
  })

  it('scores Cosine as the cosine similarity, Dot as the dot product and Euclid as the distance, nearest first', async () => {
    const points = [
      { id: 1, vector: { dense: [3, 4] } },
      { id: 2, vector: { dense: [1, 0] } },
    ]
    const cosine = await collectionOf('Cosine')
    const dot = await collectionOf('Dot')
    const euclid = await collectionOf('Euclid')
    for (const name of [cosine, dot, euclid]) await client.upsert(name, { wait: true, points })
    const scores = async (name: string, query: number[]) =>
      (await client.query(name, { query, using: 'dense', limit: 10 })).points.map((p) => [p.id, p.score])
    const close = (actual: Array<Array<unknown>>, expected: Array<[number, number]>) => {
      expect(actual.map(([id]) => id)).toEqual(expected.map(([id]) => id))
      actual.forEach(([, score], i) => {
        expect(score as number).toBeCloseTo((expected[i] as [number, number])[1], 5)
      })
    }
    close(await scores(cosine, [2, 0]), [
      [2, 1],
      [1, 0.6],
    ])
    close(await scores(dot, [2, 0]), [
      [1, 6],
      [2, 2],
    ])
    // Euclid reports the distance itself, smallest first.
    close(await scores(euclid, [0, 0]), [
      [2, 1],
      [1, 5],
    ])
  })

  it('replaces every vector of a point on upsert, so a sparse vector left out is gone', async () => {
    const name = await collectionOf('Dot', 2, true)
    const sparse = { indices: [5], values: [1] }
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: { dense: [1, 0], text: sparse } }] })
    const before = await client.query(name, { query: sparse, using: 'text', limit: 10 })
    expect(before.points.map((p) => p.id)).toEqual([1])
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: { dense: [0, 1] } }] })
    expect((await client.query(name, { query: sparse, using: 'text', limit: 10 })).points).toEqual([])
  })

  it('weights sparse queries by IDF over the whole collection and returns only points sharing a dimension', async () => {
    const name = await collectionOf('Dot', 2, true)
    // Dimension 1 is in three of four sparse vectors, dimension 2 in one; point 5 has no sparse vector.
    const docs: Array<[number, Schemas['SparseVector']]> = [
      [1, { indices: [1, 2], values: [1, 2] }],
      [2, { indices: [1], values: [3] }],
      [3, { indices: [1, 9], values: [1, 1] }],
      [4, { indices: [9], values: [1] }],
    ]
    await client.upsert(name, {
      wait: true,
      points: [
        ...docs.map(([id, text]) => ({ id, vector: { dense: [1, 0], text } })),
        { id: 5, vector: { dense: [0, 1] } },
      ],
    })
    const idf = (n: number, df: number) => Math.log((n - df + 0.5) / (df + 0.5) + 1)
    const found = await client.query(name, {
      query: { indices: [1, 2], values: [1, 1] },
      using: 'text',
      limit: 10,
    })
    const expected = new Map([
      [1, idf(4, 3) * 1 + idf(4, 1) * 2],
      [2, idf(4, 3) * 3],
      [3, idf(4, 3) * 1],
    ])
    expect(found.points.map((p) => p.id)).toEqual([1, 2, 3])
    for (const point of found.points)
      expect(point.score).toBeCloseTo(expected.get(point.id as number) as number, 5)
  })

  it("fuses prefetches with Qdrant's RRF: 1 / (k + position), k = 2 by default, positions from 0", async () => {
    const name = await collectionOf('Dot', 2, true)
    await client.upsert(name, {
      wait: true,
      points: [
        { id: 1, vector: { dense: [1, 0], text: { indices: [7], values: [1] } } },
        { id: 2, vector: { dense: [0.5, 0], text: { indices: [7], values: [5] } } },
        { id: 3, vector: { dense: [0.1, 0] } },
      ],
    })
    const prefetch = [
      { query: [1, 0], using: 'dense', limit: 10 },
      { query: { indices: [7], values: [1] }, using: 'text', limit: 10 },
    ]
    const byDefault = await client.query(name, { prefetch, query: { fusion: 'rrf' }, limit: 10 })
    const scores = (points: Schemas['ScoredPoint'][]) => new Map(points.map((p) => [p.id, p.score]))
    // Dense order 1, 2, 3; text order 2, 1.
    const defaults = scores(byDefault.points)
    expect(defaults.get(1)).toBeCloseTo(1 / 2 + 1 / 3, 6)
    expect(defaults.get(2)).toBeCloseTo(1 / 3 + 1 / 2, 6)
    expect(defaults.get(3)).toBeCloseTo(1 / 4, 6)
    const withK = scores(
      (await client.query(name, { prefetch, query: { rrf: { k: 61 } }, limit: 10 })).points,
    )
    expect(withK.get(3)).toBeCloseTo(1 / 63, 7)
  })
})

describe('filters', () => {
  let name: string
  const payloads: Array<Record<string, unknown>> = [
    { flag: true, n: 1, s: 'a', tags: ['x', 'y'] },
    { flag: 1, n: 2.5, s: '1', tags: [] },
    { flag: false, n: 0, s: 'b', tags: null },
    { nested: { k: 'v' } },
  ]

  beforeAll(async () => {
    name = await collectionOf('Dot')
    await client.upsert(name, {
      wait: true,
      points: payloads.map((payload, i) => ({ id: uuid(i), vector: { dense: [1, i] }, payload })),
    })
  })

  async function ids(filter: Schemas['Filter']): Promise<number[]> {
    const { points } = await client.scroll(name, { filter, limit: 100, with_payload: false })
    return points.map((p) => Number(String(p.id).slice(-12)))
  }

  it('matches a boolean only against booleans and an integer only against numbers', async () => {
    expect(await ids({ must: [{ key: 'flag', match: { value: true } }] })).toEqual([0])
    expect(await ids({ must: [{ key: 'flag', match: { value: 1 } }] })).toEqual([1])
    expect(await ids({ must: [{ key: 's', match: { value: 1 } }] })).toEqual([])
  })

  it('refuses a fractional number in match.value as Qdrant does', async () => {
    const { status } = await failure(
      client.count(name, { filter: { must: [{ key: 'n', match: { value: 2.5 } }] } }),
    )
    expect(status).toBe(400)
  })

  it('orders only numbers in a range: strings and booleans never fall inside', async () => {
    expect(await ids({ must: [{ key: 'n', range: { gte: 0, lte: 2.5 } }] })).toEqual([0, 1, 2])
    expect(await ids({ must: [{ key: 's', range: { gte: 0 } }] })).toEqual([])
    expect(await ids({ must: [{ key: 'flag', range: { gte: 1 } }] })).toEqual([1])
  })

  it('treats must_not on a missing field as passing', async () => {
    expect(await ids({ must_not: [{ key: 's', match: { value: 'a' } }] })).toEqual([1, 2, 3])
  })

  it('counts missing, null and [] as empty for is_empty, and a present value as not empty', async () => {
    expect(await ids({ must: [{ is_empty: { key: 'tags' } }] })).toEqual([1, 2, 3])
    expect(await ids({ must_not: [{ is_empty: { key: 'tags' } }] })).toEqual([0])
    expect(await ids({ must: [{ is_null: { key: 'tags' } }] })).toEqual([2])
  })

  it('matches a list field when any element matches (value and any)', async () => {
    expect(await ids({ must: [{ key: 'tags', match: { value: 'y' } }] })).toEqual([0])
    expect(await ids({ must: [{ key: 's', match: { any: ['a', 'b'] } }] })).toEqual([0, 2])
  })

  it('matches except only on present values: never a missing field, and a list holding another value', async () => {
    expect(await ids({ must: [{ key: 's', match: { except: ['a'] } }] })).toEqual([1, 2])
    expect(await ids({ must: [{ key: 'tags', match: { except: ['x'] } }] })).toEqual([0])
  })

  it('reads nested keys with a dotted path', async () => {
    expect(await ids({ must: [{ key: 'nested.k', match: { value: 'v' } }] })).toEqual([3])
  })

  it('matches nothing with an empty should or an empty has_id, everything with an empty filter', async () => {
    expect(await ids({ should: [] })).toEqual([])
    expect(await ids({ must: [{ has_id: [] }] })).toEqual([])
    expect(await ids({})).toEqual([0, 1, 2, 3])
  })

  it('counts exactly and deletes by filter and by ids', async () => {
    const other = await collectionOf('Dot')
    await client.upsert(other, {
      wait: true,
      points: [1, 2, 3, 4].map((id) => ({ id, vector: { dense: [1, 0] }, payload: { even: id % 2 === 0 } })),
    })
    expect(
      (await client.count(other, { filter: { must: [{ key: 'even', match: { value: true } }] } })).count,
    ).toBe(2)
    await client.delete(other, { wait: true, filter: { must: [{ key: 'even', match: { value: true } }] } })
    await client.delete(other, { wait: true, points: [1] })
    expect((await client.scroll(other, {})).points.map((p) => p.id)).toEqual([3])
  })
})

describe('scroll, retrieve and collection info', () => {
  it('pages through points in id order with next_page_offset until it is null', async () => {
    const name = await collectionOf('Dot')
    await client.upsert(name, {
      wait: true,
      points: [5, 3, 9, 1, 7].map((i) => ({ id: uuid(i), vector: { dense: [1, 0] } })),
    })
    const seen: unknown[] = []
    let offset: Schemas['ExtendedPointId'] | undefined
    let pages = 0
    do {
      const page = await client.scroll(name, { limit: 2, ...(offset === undefined ? {} : { offset }) })
      pages++
      seen.push(...page.points.map((p) => p.id))
      offset = (page.next_page_offset as Schemas['ExtendedPointId'] | null) ?? undefined
    } while (offset !== undefined)
    expect(pages).toBe(3)
    expect(seen).toEqual([1, 3, 5, 7, 9].map(uuid))
  })

  it('returns only the payload keys asked for', async () => {
    const name = await collectionOf('Dot')
    await client.upsert(name, {
      wait: true,
      points: [{ id: 1, vector: { dense: [1, 0] }, payload: { a: 1, b: 2 } }],
    })
    const [point] = await client.retrieve(name, { ids: [1], with_payload: { include: ['a'] } })
    expect(point?.payload).toEqual({ a: 1 })
    expect(point).not.toHaveProperty('vector')
  })

  it('reports the configuration it was created with and its payload indexes', async () => {
    const name = fresh()
    await client.createCollection(name, {
      vectors: { dense: { size: 4, distance: 'Euclid', on_disk: true } },
      sparse_vectors: { text: { modifier: 'idf' } },
      hnsw_config: { m: 32, ef_construct: 200 },
      quantization_config: { scalar: { type: 'int8', always_ram: true } },
    })
    await client.createPayloadIndex(name, {
      wait: true,
      field_name: 'tenant',
      field_schema: { type: 'keyword', is_tenant: true },
    })
    const info = await client.getCollection(name)
    expect(info.config.params.vectors).toEqual({ dense: { size: 4, distance: 'Euclid', on_disk: true } })
    expect(info.config.params.sparse_vectors).toEqual({ text: { modifier: 'idf' } })
    expect(info.config.hnsw_config).toMatchObject({ m: 32, ef_construct: 200 })
    expect(info.config.quantization_config).toEqual({ scalar: { type: 'int8', always_ram: true } })
    expect(info.payload_schema.tenant).toMatchObject({
      data_type: 'keyword',
      params: { type: 'keyword', is_tenant: true },
    })
    expect(await client.deleteCollection(name)).toBe(true)
    expect(await client.deleteCollection(name)).toBe(false)
  })
})
