import type { Metadata, VectorRecord } from '@engram/core'
import { validateFilter } from '@engram/core'
import { expect, it } from 'vitest'
import { filterDataSet, randomRecords } from './vector-fixtures.js'
import {
  collectBatches,
  expectVector,
  referenceIds,
  type SuiteSettings,
  sortedIds,
  useStore,
} from './vector-suite-harness.js'

// Ids that break naive SQL, LIKE patterns, case-insensitive collations and length limits.
const TRICKY_IDS = [
  'héllo wörld 你好 🚀',
  `it's "quoted"`,
  'with spaces  and\ttabs',
  "'; DROP TABLE records; --",
  'back\\slash',
  '%_like_wildcards',
  'Case',
  'case',
  'x'.repeat(512),
]

/** Upsert, get, delete, count and scan. */
export function recordTests(settings: SuiteSettings): void {
  const h = useStore(settings)
  const tolerance = settings.tolerance

  it('get returns an upserted record with its vector as a Float32Array, its metadata and its text', async () => {
    const name = await h.collection({ dimension: 3 })
    await h.load(name, [
      { id: 'a', vector: [0.1, -0.2, 0.3], metadata: { kind: 'note', n: 2 }, text: 'hello' },
    ])
    const [record, ...rest] = await h.store.get(name, ['a'])
    expect(rest).toEqual([])
    expect(record?.id).toBe('a')
    expectVector(record?.vector, [0.1, -0.2, 0.3], tolerance)
    expect(record?.metadata).toEqual({ kind: 'note', n: 2 })
    expect(record?.text).toBe('hello')
  })

  it('a record stored without metadata or text comes back without them', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'bare', vector: [1, 2] }])
    const [record] = await h.store.get(name, ['bare'])
    expect(record?.metadata ?? {}).toEqual({})
    expect(record?.text).toBeUndefined()
  })

  it('upsert with an existing id replaces the whole record and keeps the count', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0], metadata: { old: true, shared: 'before' }, text: 'old text' },
      { id: 'b', vector: [0, 1] },
    ])
    await h.load(name, [{ id: 'a', vector: [0.5, 0.5], metadata: { shared: 'after' } }])
    expect(await h.store.count(name)).toBe(2)
    const [record] = await h.store.get(name, ['a'])
    expectVector(record?.vector, [0.5, 0.5], tolerance)
    expect(record?.metadata).toEqual({ shared: 'after' })
    expect(record?.text).toBeUndefined()
  })

  it('get leaves out missing ids', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0] },
      { id: 'b', vector: [0, 1] },
    ])
    expect(sortedIds(await h.store.get(name, ['missing', 'b', 'a', 'also-missing']))).toEqual(['a', 'b'])
  })

  it('get of an empty id list returns no records', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'a', vector: [1, 0] }])
    expect(await h.store.get(name, [])).toEqual([])
  })

  it('delete by ids returns the number removed and ignores missing ids', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, randomRecords(5, 2, 1))
    expect(await h.store.delete(name, { ids: ['r000', 'r003', 'nope'] })).toBe(2)
    await h.settle()
    expect(sortedIds(await h.store.get(name, ['r000', 'r001', 'r002', 'r003', 'r004']))).toEqual([
      'r001',
      'r002',
      'r004',
    ])
    expect(await h.store.delete(name, { ids: ['r000'] })).toBe(0)
  })

  it('delete by filter removes only the matching records and returns how many', async () => {
    const name = await h.collection({ dimension: 2 })
    const records = randomRecords(6, 2, 2).map((r, i) => ({ ...r, metadata: { even: i % 2 === 0 } }))
    await h.load(name, records)
    expect(await h.store.delete(name, { filter: { even: true } })).toBe(3)
    await h.settle()
    expect(await h.store.count(name)).toBe(3)
    expect(sortedIds(await collectAll(name))).toEqual(['r001', 'r003', 'r005'])
  })

  it('count without a filter counts every record and with a filter only the matching ones', async () => {
    const name = await h.collection({ dimension: 2 })
    const records = randomRecords(7, 2, 3).map((r, i) => ({ ...r, metadata: { group: i < 4 ? 'x' : 'y' } }))
    await h.load(name, records)
    expect(await h.store.count(name)).toBe(7)
    expect(await h.store.count(name, { group: 'x' })).toBe(4)
    expect(await h.store.count(name, { group: 'z' })).toBe(0)
  })

  it('number[] and Float32Array vectors are both accepted and both come back as Float32Array', async () => {
    const name = await h.collection({ dimension: 3 })
    await h.load(name, [
      { id: 'array', vector: [1, 2, 3] },
      { id: 'typed', vector: Float32Array.from([4, 5, 6]) },
    ])
    const byId = new Map((await h.store.get(name, ['array', 'typed'])).map((r) => [r.id, r]))
    expectVector(byId.get('array')?.vector, [1, 2, 3], tolerance)
    expectVector(byId.get('typed')?.vector, [4, 5, 6], tolerance)
  })

  it('ids with unicode, quotes, spaces, wildcards, case variants and 512 characters round-trip', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      TRICKY_IDS.map((id, i) => ({ id, vector: [1, i] })),
    )
    expect(await h.store.count(name)).toBe(TRICKY_IDS.length)
    expect(sortedIds(await h.store.get(name, TRICKY_IDS))).toEqual([...TRICKY_IDS].sort())
    const matches = await h.store.query(name, { vector: [1, 0], topK: TRICKY_IDS.length })
    expect(sortedIds(matches)).toEqual([...TRICKY_IDS].sort())
    expect(await h.store.delete(name, { ids: ['Case', '%_like_wildcards'] })).toBe(2)
    await h.settle()
    expect(sortedIds(await h.store.get(name, ['case', 'Case', '%_like_wildcards', '%']))).toEqual(['case'])
  })

  it('duplicate ids in one batch keep the last record', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'dup', vector: [1, 0], metadata: { version: 1 } },
      { id: 'other', vector: [0, 1] },
      { id: 'dup', vector: [0, 1], metadata: { version: 2 } },
    ])
    expect(await h.store.count(name)).toBe(2)
    const [record] = await h.store.get(name, ['dup'])
    expectVector(record?.vector, [0, 1], tolerance)
    expect(record?.metadata).toEqual({ version: 2 })
  })

  it('upsert of an empty batch is a no-op', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'a', vector: [1, 0] }])
    await expect(h.store.upsert(name, [])).resolves.toBeUndefined()
    await h.settle()
    expect(await h.store.count(name)).toBe(1)
  })

  it('a batch of 2,000 records is stored in full', async () => {
    const name = await h.collection({ dimension: 8 })
    const records = randomRecords(2_000, 8, 4).map((r, i) => ({ ...r, metadata: { n: i } }))
    await h.load(name, records)
    expect(await h.store.count(name)).toBe(2_000)
    const sample = [records[0], records[999], records[1_999]] as VectorRecord[]
    const fetched = new Map(
      (
        await h.store.get(
          name,
          sample.map((r) => r.id),
        )
      ).map((r) => [r.id, r]),
    )
    for (const record of sample) {
      expectVector(fetched.get(record.id)?.vector, record.vector, tolerance)
      expect(fetched.get(record.id)?.metadata).toEqual(record.metadata)
    }
  })

  it('scan yields every record exactly once, in batches of at most batchSize', async () => {
    const name = await h.collection({ dimension: 4 })
    const records = randomRecords(250, 4, 5)
    await h.load(name, records)
    const batches = await collectBatches(h.store.scan(name, { batchSize: 64 }))
    for (const batch of batches) {
      expect(batch.length).toBeGreaterThan(0)
      expect(batch.length).toBeLessThanOrEqual(64)
    }
    const scanned = batches.flat()
    expect(scanned).toHaveLength(250)
    expect(sortedIds(scanned)).toEqual(sortedIds(records))
    const first = scanned[0] as VectorRecord
    expectVector(first.vector, records.find((r) => r.id === first.id)?.vector ?? [], tolerance)
  })

  it('scan batches hold at most 100 records by default', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, randomRecords(230, 2, 6))
    const batches = await collectBatches(h.store.scan(name))
    expect(batches.flat()).toHaveLength(230)
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(100)
  })

  it('scan with a filter yields only the matching records', async () => {
    const name = await h.collection({ dimension: 8 })
    const records = filterDataSet()
    await h.load(name, records)
    const filter = { category: { $in: ['news', 'tech'] } }
    const expected = referenceIds(records, validateFilter(filter))
    expect(expected.length).toBeGreaterThan(0)
    const batches = await collectBatches(h.store.scan(name, { filter, batchSize: 17 }))
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(17)
    expect(sortedIds(batches.flat())).toEqual(expected)
  })

  it('scan of an empty collection yields no records', async () => {
    const name = await h.collection({ dimension: 2 })
    expect((await collectBatches(h.store.scan(name))).flat()).toEqual([])
  })

  it('metadata of every value type round-trips, including string lists', async () => {
    const name = await h.collection({ dimension: 2 })
    const metadata: Metadata = {
      text: `quote ' double " backslash \\ and ünïcödé 🚀`,
      empty: '',
      integer: -42,
      fraction: 0.125,
      zero: 0,
      yes: true,
      no: false,
      tags: ['a', "it's", 'ünï', ''],
      none: [],
      numeric_text: '10',
    }
    await h.load(name, [{ id: 'm', vector: [1, 0], metadata }])
    const [record] = await h.store.get(name, ['m'])
    expect(record?.metadata).toEqual(metadata)
  })

  it("mutating the caller's vector or metadata after upsert does not change the stored record", async () => {
    const name = await h.collection({ dimension: 3 })
    const vector = Float32Array.from([1, 2, 3])
    const tags = ['a', 'b']
    const metadata: Record<string, string[] | number> = { tags, n: 1 }
    await h.load(name, [{ id: 'm', vector, metadata }])
    vector[0] = 99
    tags[0] = 'changed'
    tags.push('added')
    metadata.n = 2
    const [record] = await h.store.get(name, ['m'])
    expectVector(record?.vector, [1, 2, 3], tolerance)
    expect(record?.metadata).toEqual({ tags: ['a', 'b'], n: 1 })
  })

  it('mutating a record returned by get does not change the stored record', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'm', vector: [1, 2], metadata: { tags: ['a'] } }])
    const [first] = await h.store.get(name, ['m'])
    expect(first?.metadata?.tags).toEqual(['a'])
    ;(first!.vector as Float32Array)[0] = 99
    ;(first!.metadata!.tags as string[]).push('added')
    const [second] = await h.store.get(name, ['m'])
    expectVector(second?.vector, [1, 2], tolerance)
    expect(second?.metadata).toEqual({ tags: ['a'] })
  })

  it('the same id in two collections names two independent records', async () => {
    const left = await h.collection({ dimension: 2 })
    const right = await h.collection({ dimension: 3 })
    await h.load(left, [{ id: 'same', vector: [1, 0], metadata: { side: 'left' } }])
    await h.load(right, [{ id: 'same', vector: [0, 0, 1], metadata: { side: 'right' } }])
    await h.store.delete(left, { ids: ['same'] })
    await h.settle()
    expect(await h.store.count(left)).toBe(0)
    const [record] = await h.store.get(right, ['same'])
    expect(record?.metadata).toEqual({ side: 'right' })
  })

  async function collectAll(name: string): Promise<VectorRecord[]> {
    return (await collectBatches(h.store.scan(name))).flat()
  }
}
