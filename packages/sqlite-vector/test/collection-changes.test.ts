import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VectorRecord } from '@engram/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteVectorStore, type SqliteVectorStore } from '../src/index.js'
import { countingStatements, openAdapter as open, vectors } from './helpers.js'

// A query reads the collection's registry row, and the caches it answers from (decoded vectors,
// the ANN index, the records it returned before) catch up with what changed since; these tests
// change the collection behind the store's back (through another store on the same file) and
// check that every query still answers from the database as it is.

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

describe('sqlite-vector queries after another store changed the collection', () => {
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

  // A row's floor can be behind by the time a catch-up runs: these catch-ups must notice that
  // tombstones they need were pruned by another store's checkpoint after the row was read.
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
      expect(await store.count('docs')).toBe(49) // the store reads the row here
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

  for (const { tier, open: openStore } of tiers) {
    it(`returns a winner's new metadata and text once another store rewrote it (${tier})`, async () => {
      const path = newDatabase()
      const data = vectors(50, 8, 40)
      const store = openStore(path)
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert(
        'docs',
        records(data).map((r) => ({ ...r, text: `note ${r.id}` })),
      )
      const probe = data[7] as Float32Array
      const best = async () => (await store.query('docs', { vector: probe, topK: 3 }))[0]
      expect(await best()).toMatchObject({ id: 'r7', metadata: { i: 7 }, text: 'note r7' })
      expect(await best()).toMatchObject({ id: 'r7', metadata: { i: 7 }, text: 'note r7' })

      const other = createSqliteVectorStore({ adapter: open(path) })
      await other.upsert('docs', [
        { id: 'r7', vector: probe, metadata: { i: 'rewritten' }, text: 'moved away' },
      ])
      expect(await best()).toMatchObject({ id: 'r7', metadata: { i: 'rewritten' }, text: 'moved away' })
      const [byText] = await store.query('docs', { text: 'moved', topK: 1 })
      expect(byText).toMatchObject({ id: 'r7', metadata: { i: 'rewritten' } })
      // Rewritten by this store too, and metadata changed by a caller stays the caller's own.
      await store.upsert('docs', [{ id: 'r7', vector: probe, metadata: { i: 'again' } }])
      const mine = await best()
      expect(mine).toMatchObject({ id: 'r7', metadata: { i: 'again' } })
      expect(mine?.text).toBeUndefined()
      ;(mine?.metadata as { i: unknown }).i = 'changed by the caller'
      expect((await best())?.metadata).toEqual({ i: 'again' })
      await other.close()
      await store.close()
    })
  }

  /** Runs `query` and sorts the statements it ran on `sql` into registry look-ups and winners' reads. */
  const statementsOf = async (sql: string[], query: () => Promise<unknown>) => {
    const before = sql.length
    await query()
    const ran = sql.slice(before)
    return {
      statements: ran.length,
      lookups: ran.filter((s) => s.includes('WHERE name = ?')).length,
      checks: ran.filter((s) => s.includes('SELECT seq, uid')).length,
      winners: ran.filter((s) => s.includes('label IN') && s.includes('metadata')).length,
    }
  }

  it('reads only the sequence of an unchanged collection once it has returned the winners, and the registry row and what changed after any write', async () => {
    const path = newDatabase()
    const { adapter, sql } = countingStatements(open(path))
    const store: SqliteVectorStore = createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1 })
    // A second store on the same adapter writes as a memory's vector writers do.
    const writer = createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1 })
    const data = vectors(300, 8, 38)
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(data))
    const probe = data[3] as Float32Array
    // The first query builds the index and reads its winners; the second answers from memory.
    await store.query('docs', { vector: probe, topK: 5 })
    const settled = await statementsOf(sql, async () => {
      const [best] = await store.query('docs', { vector: probe, topK: 5 })
      expect(best?.id).toBe('r3')
    })
    expect(settled).toEqual({ statements: 1, lookups: 0, checks: 1, winners: 0 })

    // Another store's write on this connection: the new winner is read, the others are not.
    await writer.upsert('docs', [{ id: 'twin', vector: probe }])
    const afterOther = await statementsOf(sql, async () => {
      const ids = (await store.query('docs', { vector: probe, topK: 2 })).map((m) => m.id).sort()
      expect(ids).toEqual(['r3', 'twin'])
    })
    expect(afterOther).toMatchObject({ lookups: 1, winners: 1 })
    const reads = sql.filter((s) => s.includes('label IN') && s.includes('metadata'))
    expect(reads[reads.length - 1]).toMatch(/label IN \(\?\)/)

    // The store's own write, likewise.
    await store.upsert('docs', [{ id: 'triplet', vector: probe }])
    const afterOwn = await statementsOf(sql, async () => {
      const ids = (await store.query('docs', { vector: probe, topK: 3 })).map((m) => m.id).sort()
      expect(ids).toEqual(['r3', 'triplet', 'twin'])
    })
    expect(afterOwn).toMatchObject({ lookups: 1, winners: 1 })
    await writer.close()
    await store.close()
  })

  it('reads the winners every time with recordCacheBytes 0, with vectors, or when they do not fit the budget', async () => {
    const path = newDatabase()
    const { adapter, sql } = countingStatements(open(path))
    const data = vectors(40, 8, 41)
    const probe = data[5] as Float32Array
    const off = createSqliteVectorStore({ adapter, recordCacheBytes: 0 })
    // About 114 bytes a record here: two of them fit, five do not.
    const small = createSqliteVectorStore({ adapter, recordCacheBytes: 300 })
    const full = createSqliteVectorStore({ adapter })
    await off.createCollection('docs', { dimension: 8 })
    await off.upsert('docs', records(data))
    for (const store of [off, small, full]) await store.query('docs', { vector: probe, topK: 5 })
    const again = (store: SqliteVectorStore, includeVectors = false) =>
      statementsOf(sql, async () => {
        const matches = await store.query('docs', { vector: probe, topK: 5, includeVectors })
        expect(matches[0]?.id).toBe('r5')
        expect(matches).toHaveLength(5)
        if (includeVectors) expect(matches[0]?.vector).toEqual(probe)
      })
    expect(await again(off)).toMatchObject({ winners: 1 })
    expect(await again(small)).toMatchObject({ winners: 1 })
    expect(await again(full)).toMatchObject({ winners: 0 })
    expect(await again(full, true)).toMatchObject({ winners: 1 })
    expect(() => createSqliteVectorStore({ adapter, recordCacheBytes: -1 })).toThrow(/recordCacheBytes/)
    for (const store of [off, small, full]) await store.close()
  })

  it('does not keep winners it read before a change that a query caught up with meanwhile', async () => {
    const path = newDatabase()
    // Holds back the answer of the next winners' read (read at once, handed over on release).
    let hold = false
    let release: (() => void) | undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let readHeld: (() => void) | undefined
    const heldRead = new Promise<void>((resolve) => {
      readHeld = resolve
    })
    const inner = open(path)
    const adapter = new Proxy(inner, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== 'function') return value
        if (key !== 'all') return value.bind(target)
        return async (...args: Parameters<typeof inner.all>) => {
          const rows = await inner.all(...args)
          if (hold && String(args[0]).includes('metadata') && String(args[0]).includes('label IN')) {
            hold = false
            readHeld?.()
            await held
          }
          return rows
        }
      },
    })
    const data = vectors(20, 8, 42)
    const probe = data[4] as Float32Array
    const store = createSqliteVectorStore({ adapter })
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(data))
    hold = true
    const first = store.query('docs', { vector: probe, topK: 1 })
    await heldRead
    // The first query has read r4 as it was; another store rewrites it, and a second query
    // catches up and reads the new r4 before the first query's read comes back.
    const other = createSqliteVectorStore({ adapter: open(path) })
    await other.upsert('docs', [{ id: 'r4', vector: probe, metadata: { i: 'new' } }])
    expect((await store.query('docs', { vector: probe, topK: 1 }))[0]?.metadata).toEqual({ i: 'new' })
    release?.()
    expect((await first)[0]?.metadata).toEqual({ i: 4 })
    expect((await store.query('docs', { vector: probe, topK: 1 }))[0]?.metadata).toEqual({ i: 'new' })
    await other.close()
    await store.close()
  })
})
