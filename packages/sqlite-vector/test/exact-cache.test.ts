import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter, VectorMetric } from '@engram/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteVectorStore } from '../src/index.js'
import { openAdapter as open, seeded, vectors } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-exact-cache-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** The adapter, counting the statements that read vector blobs. */
function counting(adapter: StorageAdapter): { db: StorageAdapter; blobReads: () => number } {
  let reads = 0
  const db = new Proxy(adapter, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (key === 'all' || key === 'iterate' || key === 'get') {
        return (sql: string, params?: unknown[]) => {
          if (/SELECT[^;]*\bvector\b[^;]*FROM engram_vec_/.test(sql)) reads++
          return (value as (sql: string, params?: unknown[]) => unknown).call(target, sql, params)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { db, blobReads: () => reads }
}

/** The adapter, counting the vector blobs it reads. */
function countingRows(adapter: StorageAdapter): { db: StorageAdapter; vectorsRead: () => number } {
  let rows = 0
  const db = new Proxy(adapter, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (key === 'all') {
        return async (sql: string, params?: unknown[]) => {
          const result = (await (value as (sql: string, params?: unknown[]) => Promise<unknown[]>).call(
            target,
            sql,
            params,
          )) as Array<Record<string, unknown>>
          for (const row of result) if (row.vector instanceof Uint8Array) rows++
          return result
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { db, vectorsRead: () => rows }
}

const ids = (matches: Array<{ id: string }>) => matches.map((m) => m.id)

describe('sqlite-vector exact-search cache', () => {
  it('answers repeated exact queries from memory without reading vector blobs', async () => {
    const { db, blobReads } = counting(open(':memory:'))
    const store = createSqliteVectorStore({ adapter: db })
    await store.createCollection('docs', { dimension: 8 })
    const data = vectors(300, 8, 1)
    await store.upsert(
      'docs',
      data.map((vector, i) => ({ id: `v${i}`, vector, metadata: { even: i % 2 === 0 } })),
    )
    const query = { vector: data[3] as Float32Array, topK: 5 }
    const first = await store.query('docs', query)
    const afterFirst = blobReads()
    expect(afterFirst).toBeGreaterThan(0)
    expect(await store.query('docs', query)).toEqual(first)
    expect(await store.query('docs', { ...query, filter: { even: true } })).toHaveLength(5)
    expect(blobReads()).toBe(afterFirst)
    await store.close()
  })

  it('sees its own upserts and deletes at once, reading only the changed rows', async () => {
    const { db, blobReads } = counting(open(':memory:'))
    const store = createSqliteVectorStore({ adapter: db })
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', [
      { id: 'a', vector: [1, 0] },
      { id: 'b', vector: [0, 1] },
    ])
    const top = async () => ids(await store.query('docs', { vector: [1, 0], topK: 1 }))
    expect(await top()).toEqual(['a'])
    await store.upsert('docs', [{ id: 'c', vector: [1, 0.01] }])
    await store.upsert('docs', [{ id: 'a', vector: [-1, 0] }])
    const before = blobReads()
    expect(await top()).toEqual(['c'])
    expect(blobReads() - before).toBe(1)
    await store.delete('docs', { ids: ['c'] })
    expect(await top()).toEqual(['b'])
    expect(await store.query('docs', { vector: [1, 0], topK: 10 })).toHaveLength(2)
    await store.close()
  })

  for (const ann of [false, true]) {
    it(`never serves stale results after another store writes the same file${ann ? ' (with tombstones)' : ''}`, async () => {
      const path = join(folder, `shared-${ann}.db`)
      const options = ann ? { ann: { path }, exactBelow: 1_000_000 } : {}
      const reader = createSqliteVectorStore({ adapter: open(path), ...options })
      const writer = createSqliteVectorStore({ adapter: open(path), ...options })
      await reader.createCollection('docs', { dimension: 2 })
      await writer.upsert('docs', [
        { id: 'a', vector: [1, 0] },
        { id: 'b', vector: [0, 1] },
      ])
      const top = async (k = 1) => ids(await reader.query('docs', { vector: [1, 0], topK: k }))
      expect(await top()).toEqual(['a'])
      await writer.upsert('docs', [{ id: 'c', vector: [1, 0.01] }])
      await writer.upsert('docs', [{ id: 'a', vector: [-1, 0] }])
      expect(await top()).toEqual(['c'])
      await writer.delete('docs', { ids: ['c'] })
      expect(await top(10)).toEqual(['b', 'a'])
      await writer.delete('docs', { filter: {} })
      expect(await top(10)).toEqual([])
      await writer.upsert('docs', [{ id: 'a', vector: [1, 0] }])
      expect(await top(10)).toEqual(['a'])
      // A dropped and recreated namesake is a different collection.
      await writer.dropCollection('docs')
      await writer.createCollection('docs', { dimension: 2 })
      await writer.upsert('docs', [{ id: 'z', vector: [1, 0] }])
      expect(await top(10)).toEqual(['z'])
      await reader.close()
      await writer.close()
    })
  }

  it('scans the database for a collection over the byte budget and still answers exactly', async () => {
    const { db, blobReads } = counting(open(':memory:'))
    const small = createSqliteVectorStore({ adapter: db, exactCacheBytes: 10_000 })
    const off = createSqliteVectorStore({ adapter: db, exactCacheBytes: 0 })
    await small.createCollection('docs', { dimension: 16 })
    const data = vectors(500, 16, 2)
    await small.upsert(
      'docs',
      data.map((vector, i) => ({ id: `v${i}`, vector })),
    )
    const query = { vector: data[7] as Float32Array, topK: 10 }
    const expected = await off.query('docs', query)
    const before = blobReads()
    expect(await small.query('docs', query)).toEqual(expected)
    expect(await small.query('docs', query)).toEqual(expected)
    expect(blobReads() - before).toBe(2)
    expect(() => createSqliteVectorStore({ adapter: db, exactCacheBytes: -1 })).toThrow(/exactCacheBytes/)
    await small.close()
    await off.close()
  })

  for (const metric of ['cosine', 'dot', 'euclidean'] as VectorMetric[]) {
    it(`returns exactly what a store without the cache returns on random data (${metric})`, async () => {
      const db = open(':memory:')
      // A budget that holds one collection at a time, so eviction and reloads are exercised too.
      const cached = createSqliteVectorStore({ adapter: db, exactCacheBytes: 400 * (24 * 4 + 56) })
      const plain = createSqliteVectorStore({ adapter: db, exactCacheBytes: 0 })
      const random = seeded(11)
      for (const name of ['one', 'two']) {
        await cached.createCollection(name, { dimension: 24, metric })
        // Repeated vectors make ties, so the tie-breaks are compared too.
        const data = vectors(300, 24, name.length)
        await cached.upsert(
          name,
          data.map((vector, i) => ({
            id: `${name}${i}`,
            vector: data[i % 250] ?? vector,
            metadata: { n: i % 7 },
          })),
        )
      }
      for (let round = 0; round < 20; round++) {
        const name = round % 3 === 0 ? 'two' : 'one'
        const vector = vectors(1, 24, 100 + round)[0] as Float32Array
        const filter = round % 4 === 0 ? { n: { $lt: 3 } } : undefined
        const query = { vector, topK: 1 + Math.floor(random() * 40), ...(filter ? { filter } : {}) }
        expect(await cached.query(name, query)).toEqual(await plain.query(name, query))
        if (round % 5 === 4) {
          await plain.upsert(name, [
            { id: `${name}${round}`, vector: vectors(1, 24, 500 + round)[0] as Float32Array },
          ])
          await plain.delete(name, { ids: [`${name}${round + 1}`] })
        }
      }
      await cached.close()
      await plain.close()
    })
  }

  for (const metric of ['cosine', 'dot', 'euclidean'] as VectorMetric[]) {
    it(`answers exactly from one byte per number when Float32 does not fit, re-scoring only a few records (${metric})`, async () => {
      const { db, vectorsRead } = countingRows(open(':memory:'))
      // 300 × 24: 36,000 bytes quantized, 45,600 as Float32.
      const quantized = createSqliteVectorStore({ adapter: db, exactCacheBytes: 40_000 })
      const plain = createSqliteVectorStore({ adapter: db, exactCacheBytes: 0 })
      await quantized.createCollection('docs', { dimension: 24, metric })
      const data = vectors(300, 24, 7)
      const base = data[5] as Float32Array
      const noise = vectors(40, 24, 8)
      await quantized.upsert(
        'docs',
        data.map((vector, i) => ({
          id: `d${i}`,
          // Repeated vectors make ties, and a zero vector scores 0 under cosine. Forty records
          // within 0.1% of one another score closer together than one byte per number can tell
          // apart, so only the exact re-score can rank them.
          vector:
            i === 13
              ? new Float32Array(24)
              : i >= 100 && i < 140
                ? base.map((x, j) => x + 1e-3 * ((noise[i - 100] as Float32Array)[j] as number))
                : (data[i % 260] ?? vector),
          metadata: { n: i % 5 },
        })),
      )
      const random = seeded(3)
      let reread = 0
      for (let round = 0; round < 30; round++) {
        const near = base.map(
          (x, j) => x + 0.01 * ((vectors(1, 24, 200 + round)[0] as Float32Array)[j] as number),
        )
        const vector = round % 2 === 0 ? near : (vectors(1, 24, 200 + round)[0] as Float32Array)
        const filter = round % 3 === 0 ? { n: { $lt: 2 } } : undefined
        const query = { vector, topK: 1 + Math.floor(random() * 20), ...(filter ? { filter } : {}) }
        const expected = await plain.query('docs', query)
        const before = vectorsRead()
        expect(await quantized.query('docs', query)).toEqual(expected)
        if (round > 0) reread += vectorsRead() - before
        if (round % 10 === 9) {
          await plain.upsert('docs', [
            { id: `d${round}`, vector: vectors(1, 24, 900 + round)[0] as Float32Array },
          ])
          await plain.delete('docs', { ids: [`d${round + 1}`] })
        }
      }
      // Each query re-read a few candidates (and the catch-ups their changed rows), never the collection.
      expect(reread / 29).toBeLessThan(300 * 0.2)
      await quantized.close()
      await plain.close()
    })
  }

  for (const metric of ['cosine', 'dot', 'euclidean'] as VectorMetric[]) {
    it(`answers exactly through the SIMD first pass, from Float32 in memory and from the database (${metric})`, async () => {
      const { db, vectorsRead } = countingRows(open(':memory:'))
      // 3,000 × 40: the codes fill more than one 64 KiB WebAssembly page. About 0.5 MB quantized,
      // 0.9 MB with Float32 copies.
      const float = createSqliteVectorStore({ adapter: db, exactCacheBytes: 2_000_000 })
      const quantized = createSqliteVectorStore({ adapter: db, exactCacheBytes: 600_000 })
      const plain = createSqliteVectorStore({ adapter: db, exactCacheBytes: 0 })
      await plain.createCollection('docs', { dimension: 40, metric })
      const data = vectors(3000, 40, 21)
      const base = data[0] as Float32Array
      await plain.upsert(
        'docs',
        data.map((vector, i) => ({
          id: `d${i}`,
          // Near-duplicates of one record and repeats, so ranks hinge on the exact re-score and ties.
          vector:
            i % 10 === 0 ? base.map((x, j) => x + 1e-4 * (((i + j) % 7) - 3)) : (data[i % 2900] ?? vector),
          metadata: { n: i % 4 },
        })),
      )
      const random = seeded(8)
      for (let round = 0; round < 12; round++) {
        const vector = round % 2 === 0 ? base : (vectors(1, 40, 300 + round)[0] as Float32Array)
        const filter = round % 3 === 0 ? { n: { $lt: 2 } } : undefined
        const query = { vector, topK: 1 + Math.floor(random() * 30), ...(filter ? { filter } : {}) }
        const expected = await plain.query('docs', query)
        const fromMemory = vectorsRead()
        expect(await float.query('docs', query)).toEqual(expected)
        if (round > 0) expect(vectorsRead() - fromMemory).toBe(0)
        const before = vectorsRead()
        expect(await quantized.query('docs', query)).toEqual(expected)
        // After the first load, a query re-reads its candidates only, never the collection.
        if (round > 0) expect(vectorsRead() - before).toBeLessThan(3000 * 0.2)
      }
      await float.close()
      await quantized.close()
      await plain.close()
    })
  }
})
