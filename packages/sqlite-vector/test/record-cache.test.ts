import type { StorageAdapter } from '@engram/core'
import { describe, expect, it } from 'vitest'
import type { CollectionRow } from '../src/collection-tables.js'
import { createSqliteVectorStore } from '../src/index.js'
import { RecordCache } from '../src/record-cache.js'
import { countingStatements, openAdapter, vectors } from './helpers.js'

/** A store on a counted in-memory adapter with `n` records `r0…` (labels 1…n), and a way to read the collection's row. */
async function setUp(n: number) {
  const { adapter, sql } = countingStatements(openAdapter())
  const store = createSqliteVectorStore({ adapter })
  await store.createCollection('docs', { dimension: 4 })
  await store.upsert(
    'docs',
    vectors(n, 4, 51).map((vector, i) => ({ id: `r${i}`, vector, metadata: { i }, text: `note ${i}` })),
  )
  const row = async () =>
    (await adapter.get<CollectionRow>(
      `SELECT cid, name, uid, dimension, metric, fts, seq, floor, count FROM engram_collections WHERE name = 'docs'`,
    )) as CollectionRow
  return { adapter, sql, store, row }
}

/** How many winners' reads `fn` ran on the counted adapter. */
async function readsDuring(sql: string[], fn: () => Promise<unknown>): Promise<number> {
  const before = sql.length
  await fn()
  return sql.slice(before).filter((s) => s.includes('label IN')).length
}

const labels = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('RecordCache', () => {
  it('returns the fields of the labels asked for, and leaves out labels that hold no record', async () => {
    const { adapter, row } = await setUp(10)
    const cache = new RecordCache(adapter as StorageAdapter, 1 << 20)
    const found = await cache.fields(await row(), [3, 99, 1])
    expect([...found.keys()].sort()).toEqual([1, 3])
    expect(found.get(3)).toMatchObject({ id: 'r2', metadata: '{"i":2}', text: 'note 2' })
  })

  it('stays within its budget, evicting the least recently used record first', async () => {
    const { adapter, sql, row } = await setUp(30)
    const c = await row()
    // r0…r9 cost 96 + 2 × (2 + 7 + 6) = 126 bytes each: five fit in 700.
    const cache = new RecordCache(adapter, 700)
    await cache.fields(c, labels(1, 5))
    expect(cache.size).toBe(5)
    expect(cache.bytes).toBe(5 * 126)
    expect(await readsDuring(sql, () => cache.fields(c, labels(1, 5)))).toBe(0)
    // Label 1 is used again, so label 2 is now the least recently used and goes first.
    await cache.fields(c, [1])
    expect(await readsDuring(sql, () => cache.fields(c, [6]))).toBe(1)
    expect(cache.bytes).toBeLessThanOrEqual(700)
    expect(await readsDuring(sql, () => cache.fields(c, [1, 3, 4, 5, 6]))).toBe(0)
    expect(await readsDuring(sql, () => cache.fields(c, [2]))).toBe(1)
    // Twenty records at once: the answer holds all of them, the cache only what fits.
    expect((await cache.fields(c, labels(7, 26))).size).toBe(20)
    expect(cache.bytes).toBeLessThanOrEqual(700)
  })

  it('keeps nothing when one record alone is larger than the budget', async () => {
    const { adapter, row } = await setUp(3)
    const cache = new RecordCache(adapter, 100)
    expect((await cache.fields(await row(), [1, 2])).size).toBe(2)
    expect(cache.size).toBe(0)
    expect(cache.bytes).toBe(0)
  })

  it('forgets only the records written since, and everything after deletes that left no tombstones', async () => {
    const { adapter, sql, store, row } = await setUp(10)
    const cache = new RecordCache(adapter, 1 << 20)
    await cache.fields(await row(), labels(1, 10))
    await store.upsert('docs', [{ id: 'r4', vector: new Float32Array([1, 0, 0, 0]), metadata: { i: 'new' } }])
    const after = await row()
    let found: Map<number, { metadata: string | null }> | undefined
    const reads = await readsDuring(sql, async () => {
      found = await cache.fields(after, labels(1, 10))
    })
    // Label 5 (r4) is read again, alone; the other nine come from memory.
    expect(reads).toBe(1)
    expect(sql.filter((s) => s.includes('label IN')).at(-1)).toMatch(/label IN \(\?\)/)
    expect(found?.get(5)?.metadata).toBe('{"i":"new"}')
    expect(found?.get(4)?.metadata).toBe('{"i":3}')
    // Without an ANN index a delete leaves no tombstone and moves the floor: start over.
    await store.delete('docs', { ids: ['r0'] })
    await cache.fields(await row(), [2])
    expect(cache.size).toBe(1)
  })

  it('starts over for a collection dropped and created again, and forgets a dropped one', async () => {
    const { adapter, store, row } = await setUp(5)
    const cache = new RecordCache(adapter, 1 << 20)
    const first = await row()
    await cache.fields(first, labels(1, 5))
    cache.drop(first.cid)
    expect(cache.size).toBe(0)
    await cache.fields(first, [1])
    expect(cache.size).toBe(1)
    expect(await cache.fields({ ...first, uid: 'another' }, [2])).toHaveProperty('size', 1)
    expect(cache.size).toBe(1)
    await store.close()
  })
})
