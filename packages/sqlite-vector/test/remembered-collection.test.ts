import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VectorRecord } from '@engram/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteVectorStore, type SqliteVectorStore } from '../src/index.js'
import { countingStatements, openAdapter as open, vectors } from './helpers.js'

// A query uses the registry row its store last read and checks it in its final statement; these
// tests change the collection behind the store's back (through another store on the same file)
// and check that every query still answers from the database as it is.

const folder = mkdtempSync(join(tmpdir(), 'engram-remembered-collection-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const newDatabase = () => join(folder, `db-${++counter}.sqlite`)

const records = (list: Float32Array[], prefix = 'r'): VectorRecord[] =>
  list.map((vector, i) => ({ id: `${prefix}${i}`, vector, metadata: { i } }))

const tiers = [
  { tier: 'exact', open: (path: string) => createSqliteVectorStore({ adapter: open(path) }) },
  {
    tier: 'HNSW',
    open: (path: string) => createSqliteVectorStore({ adapter: open(path), ann: { path }, exactBelow: 1 }),
  },
] as const

describe('sqlite-vector queries on a remembered collection row', () => {
  for (const { tier, open: openStore } of tiers) {
    it(`sees another store's upsert and delete in its next query (${tier})`, async () => {
      const path = newDatabase()
      const data = vectors(50, 8, 31)
      const store = openStore(path)
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert('docs', records(data))
      const probe = data[7] as Float32Array
      expect((await store.query('docs', { vector: probe, topK: 1 }))[0]?.id).toBe('r7')

      const other = createSqliteVectorStore({ adapter: open(path) })
      await other.delete('docs', { ids: ['r7'] })
      await other.upsert('docs', [{ id: 'twin', vector: probe }])
      const [best, next] = await store.query('docs', { vector: probe, topK: 2 })
      expect(best?.id).toBe('twin')
      expect(next?.id).not.toBe('r7')
      expect(await store.count('docs')).toBe(50)
      await other.close()
      await store.close()
    })

    it(`answers for a collection another store dropped and created again with another dimension (${tier})`, async () => {
      const path = newDatabase()
      const store = openStore(path)
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert('docs', records(vectors(20, 8, 32)))
      await store.query('docs', { vector: vectors(1, 8, 33)[0] as Float32Array })

      const other = createSqliteVectorStore({ adapter: open(path) })
      await other.dropCollection('docs')
      await other.createCollection('docs', { dimension: 4 })
      const fresh = vectors(5, 4, 34)
      await other.upsert('docs', records(fresh, 'n'))
      const matches = await store.query('docs', { vector: fresh[2] as Float32Array, topK: 5 })
      expect(matches.map((m) => m.id).sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4'])
      expect(matches[0]?.id).toBe('n2')
      await expect(
        store.query('docs', { vector: vectors(1, 8, 35)[0] as Float32Array }),
      ).rejects.toMatchObject({
        code: 'DIMENSION_MISMATCH',
      })
      await other.close()
      await store.close()
    })

    it(`reports NOT_FOUND for a collection another store dropped (${tier})`, async () => {
      const path = newDatabase()
      const store = openStore(path)
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert('docs', records(vectors(20, 8, 36)))
      const probe = vectors(1, 8, 37)[0] as Float32Array
      await store.query('docs', { vector: probe })

      const other = createSqliteVectorStore({ adapter: open(path) })
      await other.dropCollection('docs')
      await expect(store.query('docs', { vector: probe })).rejects.toMatchObject({ code: 'NOT_FOUND' })
      await other.close()
      await store.close()
    })
  }

  // A remembered row's floor can be behind: these catch-ups must notice that tombstones they
  // need were pruned by another store's checkpoint after the row was read.
  for (const tier of ['exact cache', 'HNSW'] as const) {
    it(`catches up past tombstones another store pruned after the row was read (${tier})`, async () => {
      const path = newDatabase()
      const data = vectors(50, 8, 39)
      const store = createSqliteVectorStore({
        adapter: open(path),
        ann: { path },
        exactBelow: tier === 'HNSW' ? 1 : 1000,
      })
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert('docs', records(data))
      const probe = data[7] as Float32Array
      expect(await store.query('docs', { vector: probe, topK: 50 })).toHaveLength(50)

      const other = createSqliteVectorStore({ adapter: open(path), ann: { path }, exactBelow: 1 })
      await other.delete('docs', { ids: ['r7'] })
      expect(await store.count('docs')).toBe(49) // the store reads (and remembers) the row here
      // The other store's index applies the tombstone and its checkpoint prunes it.
      await other.query('docs', { vector: probe, topK: 1 })
      await other.close()

      // A deleted record left in memory would take the first place and leave nine matches.
      const matches = await store.query('docs', { vector: probe, topK: 10 })
      expect(matches.map((m) => m.id)).not.toContain('r7')
      expect(matches).toHaveLength(10)
      await store.close()
    })
  }

  it('reads only the change count and its winners on an unchanged collection, and the registry again after any write on the connection', async () => {
    const path = newDatabase()
    const { adapter, sql } = countingStatements(open(path))
    const store: SqliteVectorStore = createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1 })
    // A second store on the same adapter writes as a memory's vector writers do.
    const writer = createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1 })
    const data = vectors(300, 8, 38)
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(data))
    const probe = data[3] as Float32Array
    // The first query builds the index, and its checkpoint writes; the second looks the row up again.
    await store.query('docs', { vector: probe, topK: 5 })
    await store.query('docs', { vector: probe, topK: 5 })
    const during = async (query: () => Promise<unknown>) => {
      const before = sql.length
      await query()
      const ran = sql.slice(before)
      return {
        statements: ran.length,
        lookups: ran.filter((s) => s.includes('WHERE name = ?')).length,
        // The winners' ids and metadata, with the registry row (checked) or without it.
        winners: ran.filter((s) => s.includes('label IN') && s.includes('metadata')).length,
      }
    }
    const settled = await during(async () => {
      const [best] = await store.query('docs', { vector: probe, topK: 5 })
      expect(best?.id).toBe('r3')
    })
    expect(settled).toEqual({ statements: 2, lookups: 0, winners: 1 })

    // Another store's write on this connection: looked up first, so the query runs once.
    await writer.upsert('docs', [{ id: 'twin', vector: probe }])
    const afterOther = await during(async () => {
      const ids = (await store.query('docs', { vector: probe, topK: 2 })).map((m) => m.id).sort()
      expect(ids).toEqual(['r3', 'twin'])
    })
    expect(afterOther).toMatchObject({ lookups: 1, winners: 1 })

    // The store's own write, likewise.
    await store.upsert('docs', [{ id: 'triplet', vector: probe }])
    const afterOwn = await during(async () => {
      const ids = (await store.query('docs', { vector: probe, topK: 3 })).map((m) => m.id).sort()
      expect(ids).toEqual(['r3', 'triplet', 'twin'])
    })
    expect(afterOwn).toMatchObject({ lookups: 1, winners: 1 })
    await writer.close()
    await store.close()
  })
})
