import {
  collectionNotFound,
  type StorageAdapter,
  similarity,
  type VectorRecord,
  type VectorStore,
} from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

const schema = freshSchema('engram_vt')
let adapter: StorageAdapter
let storeA: VectorStore
let storeB: VectorStore
let owner: VectorStore

const record = (id: string, vector: number[], metadata: Record<string, string>): VectorRecord => ({
  id,
  vector,
  metadata,
  text: `shared words ${id}`,
})

async function scanIds(store: VectorStore, name: string): Promise<string[]> {
  const ids: string[] = []
  for await (const batch of store.scan(name)) ids.push(...batch.map((r) => r.id))
  return ids.sort()
}

beforeAll(async () => {
  await requireDatabase()
  adapter = createPostgresAdapter({ connectionString: PG_URL })
  owner = createPgVectorStore({ adapter, schema })
  storeA = createPgVectorStore({ adapter, schema, tenant: 'A' })
  storeB = createPgVectorStore({ adapter, schema, tenant: 'B' })
})

afterAll(async () => {
  for (const store of [storeA, storeB, owner]) await store?.close()
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

describe('tenant isolation', () => {
  it('tenant A cannot read, count, scan, search or delete tenant B records, even with crafted filters', async () => {
    const name = 'shared_notes'
    await owner.createCollection(name, { dimension: 2 })
    await storeB.upsert(name, [
      record('b1', [1, 0], { tenant_id: 'B' }),
      record('same', [0, 1], { tenant_id: 'B' }),
    ])
    await storeA.upsert(name, [
      record('a1', [1, 0.1], { owner: 'a' }),
      record('same', [0.5, 0.5], { owner: 'a' }),
    ])

    expect(await storeA.get(name, ['b1', 'same'])).toMatchObject([{ id: 'same', metadata: { owner: 'a' } }])
    expect(await storeA.count(name)).toBe(2)
    expect(await storeA.count(name, { tenant_id: 'B' })).toBe(0)
    expect(await storeA.count(name, { $or: [{ tenant_id: 'B' }, { tenant_id: { $ne: 'B' } }] })).toBe(2)
    expect(await scanIds(storeA, name)).toEqual(['a1', 'same'])
    const vectorHits = await storeA.query(name, { vector: [1, 0], topK: 10 })
    expect(vectorHits.map((m) => m.id).sort()).toEqual(['a1', 'same'])
    const hybridHits = await storeA.query(name, { vector: [1, 0], text: 'shared words b1', topK: 10 })
    expect(hybridHits.map((m) => m.id).sort()).toEqual(['a1', 'same'])
    const textHits = await storeA.query(name, { text: 'b1', topK: 10 })
    expect(textHits).toEqual([])

    expect(await storeA.delete(name, { ids: ['b1'] })).toBe(0)
    expect(
      await storeA.delete(name, { filter: { $or: [{ tenant_id: 'B' }, { tenant_id: { $exists: true } }] } }),
    ).toBe(0)
    expect(await storeA.delete(name, { filter: {} })).toBe(2)
    expect(await storeB.count(name)).toBe(2)
    expect((await storeB.get(name, ['same']))[0]?.metadata).toEqual({ tenant_id: 'B' })

    // Dropping through a tenant-scoped store removes only that tenant's records.
    await storeA.upsert(name, [record('a2', [1, 1], {})])
    await storeA.dropCollection(name)
    expect(await storeA.count(name)).toBe(0)
    expect(await storeB.count(name)).toBe(2)
    await owner.dropCollection(name)
    await expect(storeB.count(name)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: collectionNotFound(name).message,
    })
  })
})

/** The error `fn` throws synchronously, or `undefined`. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

describe('tenant ids', () => {
  it('refuses a tenant with a lone surrogate or a NUL, with or without row-level security', () => {
    // UTF-8 cannot carry a lone surrogate: 'T\uD800' would reach the server as 'T\uFFFD', another
    // tenant's id, and PostgreSQL text cannot hold NUL at all.
    for (const tenant of ['T\uD800', 'T\uDC00', 'T\u0000']) {
      for (const rowLevelSecurity of [false, true]) {
        const error = thrownBy(() => createPgVectorStore({ adapter, schema, tenant, rowLevelSecurity }))
        expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/tenant/) })
      }
    }
  })

  it('keeps tenants that differ only by U+FFFD apart, each stored under its exact id', async () => {
    const name = 'replacement_char'
    const replaced = createPgVectorStore({ adapter, schema, tenant: 'T\uFFFD' })
    const plain = createPgVectorStore({ adapter, schema, tenant: 'T' })
    try {
      await owner.createCollection(name, { dimension: 2 })
      await replaced.upsert(name, [record('x', [1, 0], { who: 'replaced' })])
      await plain.upsert(name, [record('x', [0, 1], { who: 'plain' })])
      expect((await replaced.get(name, ['x']))[0]?.metadata).toEqual({ who: 'replaced' })
      expect((await plain.get(name, ['x']))[0]?.metadata).toEqual({ who: 'plain' })
      expect(await replaced.delete(name, { filter: {} })).toBe(1)
      expect(await plain.count(name)).toBe(1)
      await replaced.upsert(name, [record('y', [1, 1], {})])
      const row = await adapter.get<{ id: number }>(
        `SELECT id FROM "${schema}".engram_collections WHERE name = ?`,
        [name],
      )
      const tenants = await adapter.all<{ tenant_id: string }>(
        `SELECT tenant_id FROM "${schema}".engram_v${Number(row?.id)} ORDER BY tenant_id`,
      )
      expect(tenants.map((t) => t.tenant_id)).toEqual(['T', 'T\uFFFD'])
    } finally {
      await owner.dropCollection(name)
      await replaced.close()
      await plain.close()
    }
  })
})

describe('HNSW search on a large collection', () => {
  // exactBelow: 1 sends every search through the HNSW index (with iterative scan), as on a big
  // collection; the first search builds the index.
  const dimension = 32
  const records: VectorRecord[] = []
  let ann: VectorStore
  const name = 'clustered'

  beforeAll(async () => {
    ann = createPgVectorStore({ adapter, schema, exactBelow: 1, efSearch: 64 })
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    const centres = Array.from({ length: 20 }, () =>
      Array.from({ length: dimension }, () => random() * 2 - 1),
    )
    for (let i = 0; i < 3000; i++) {
      const centre = centres[i % centres.length] as number[]
      records.push({
        id: `v${String(i).padStart(4, '0')}`,
        vector: centre.map((x) => x + (random() - 0.5) * 0.4),
        // 1% of the records (30) are rare.
        metadata: { group: i % 100 === 42 ? 'rare' : 'common' },
      })
    }
    await ann.createCollection(name, { dimension })
    await ann.upsert(name, records)
  })

  afterAll(async () => {
    await ann.dropCollection(name)
    await ann.close()
  })

  const exactTop = (query: Float32Array, allowed: (r: VectorRecord) => boolean, k: number) =>
    records
      .filter(allowed)
      .map((r) => ({ id: r.id, score: similarity('cosine', query, Float32Array.from(r.vector)) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map((r) => r.id)

  it('returns exact scores, best first, with high recall', async () => {
    const query = Float32Array.from(records[5]?.vector as number[])
    const matches = await ann.query(name, { vector: query, topK: 10 })
    expect(matches).toHaveLength(10)
    for (let i = 1; i < matches.length; i++)
      expect(matches[i]!.score).toBeLessThanOrEqual(matches[i - 1]!.score)
    const byId = new Map(records.map((r) => [r.id, Float32Array.from(r.vector)]))
    for (const m of matches)
      expect(Math.abs(m.score - similarity('cosine', query, byId.get(m.id)!))).toBeLessThan(1e-4)
    const expected = exactTop(query, () => true, 10)
    expect(matches.filter((m) => expected.includes(m.id)).length).toBeGreaterThanOrEqual(9)
  })

  it('fills topK for a filter matching 1% of the records', async () => {
    const query = Float32Array.from(records[5]?.vector as number[])
    const matches = await ann.query(name, { vector: query, topK: 10, filter: { group: 'rare' } })
    expect(matches).toHaveLength(10)
    for (const m of matches) expect(m.id.endsWith('42')).toBe(true)
    const expected = exactTop(query, (r) => r.metadata?.group === 'rare', 10)
    expect(matches.filter((m) => expected.includes(m.id)).length).toBeGreaterThanOrEqual(9)
  })

  it('stores vectors above 2,000 dimensions and searches them through a halfvec index', async () => {
    const wide = 'wide'
    await ann.createCollection(wide, { dimension: 2048 })
    try {
      const rows = Array.from({ length: 20 }, (_, i) => ({
        id: `w${i}`,
        vector: Array.from({ length: 2048 }, (_, j) => Math.sin(i * 31 + j)),
      }))
      await ann.upsert(wide, rows)
      const halfvecIndex = () =>
        adapter.all<{ indexdef: string }>(
          `SELECT indexdef FROM pg_indexes WHERE schemaname = ? AND indexname LIKE '%hnsw' AND indexdef LIKE '%halfvec%'`,
          [schema],
        )
      // The index is built by the first search that needs it, not with the table.
      expect(await halfvecIndex()).toEqual([])
      const [best] = await ann.query(wide, { vector: rows[3]?.vector as number[], topK: 3 })
      expect(best?.id).toBe('w3')
      expect(best?.score).toBeCloseTo(1, 4)
      const [stored] = await ann.get(wide, ['w3'])
      expect(stored?.vector[100]).toBeCloseTo(Math.sin(3 * 31 + 100), 6)
      const [index] = await halfvecIndex()
      expect(index?.indexdef).toContain('halfvec(2048)')
    } finally {
      await ann.dropCollection(wide)
    }
  })
})

describe('schema per tenant', () => {
  const schemaA = freshSchema('engram_vt_a')
  const schemaB = freshSchema('engram_vt_b')

  afterAll(async () => {
    await admin(`DROP SCHEMA IF EXISTS ${schemaA} CASCADE; DROP SCHEMA IF EXISTS ${schemaB} CASCADE`)
  })

  it('stores on two schemas of one database share no collections, records or drops', async () => {
    const a = createPgVectorStore({ adapter, schema: schemaA })
    const b = createPgVectorStore({ adapter, schema: schemaB })
    try {
      // The same name with another spec is another collection, not a SPEC_MISMATCH.
      await a.createCollection('notes', { dimension: 2 })
      await b.createCollection('notes', { dimension: 3, metric: 'dot' })
      await b.createCollection('only_b', { dimension: 2 })
      await a.upsert('notes', [record('same', [1, 0], { tenant_id: 'B' })])
      await b.upsert('notes', [record('same', [1, 2, 3], { owner: 'b' }), record('b1', [0, 0, 1], {})])

      expect(await a.listCollections()).toEqual(['notes'])
      expect(await b.listCollections()).toEqual(['notes', 'only_b'])
      expect(await a.describeCollection('only_b')).toBeUndefined()
      expect(await a.describeCollection('notes')).toEqual({
        name: 'notes',
        dimension: 2,
        metric: 'cosine',
        count: 1,
      })
      expect(await a.get('notes', ['same', 'b1'])).toMatchObject([
        { id: 'same', metadata: { tenant_id: 'B' } },
      ])
      expect(Array.from((await b.get('notes', ['same']))[0]?.vector ?? [])).toEqual([1, 2, 3])
      expect(await a.count('notes', { $or: [{ owner: 'b' }, { tenant_id: { $exists: false } }] })).toBe(0)
      expect(
        await a.delete('notes', { filter: { $or: [{ owner: 'b' }, { owner: { $exists: false } }] } }),
      ).toBe(1)
      expect(await b.count('notes')).toBe(2)

      await a.dropCollection('notes')
      expect(await a.listCollections()).toEqual([])
      expect(await b.describeCollection('notes')).toMatchObject({ dimension: 3, count: 2 })
      const tables = await adapter.all<{ schemaname: string; n: number }>(
        `SELECT schemaname, count(*) AS n FROM pg_tables WHERE schemaname IN (?, ?) GROUP BY schemaname ORDER BY schemaname`,
        [schemaA, schemaB],
      )
      // The registry in each, plus B's two collection tables.
      expect(tables).toEqual([
        { schemaname: schemaA, n: 1 },
        { schemaname: schemaB, n: 3 },
      ])
    } finally {
      await a.close()
      await b.close()
    }
  })
})
