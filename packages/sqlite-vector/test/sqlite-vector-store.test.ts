import { type AnnIndexOptions, HNSW_DEFAULTS, reciprocalRankFusion, type StorageAdapter } from '@engram/core'
import { createHnswIndex } from '@engram/hnsw-sidecar'
import { describe, expect, it } from 'vitest'
import { createSqliteVectorStore, ftsMatchQuery } from '../src/index.js'
import { openAdapter as memory, withFts } from './helpers.js'

describe('sqlite-vector full text', () => {
  for (const flavour of ['fts5', 'fts4'] as const) {
    it(`keeps the ${flavour} table in step with the records on insert, replace, update and delete`, async () => {
      const native = memory()
      const db = flavour === 'fts5' ? native : withFts(native, 'fts4')
      const store = createSqliteVectorStore({ adapter: db })
      await store.createCollection('docs', { dimension: 2 })
      const ftsRows = async () =>
        (
          await db.all<{ rowid: number; text: string }>('SELECT rowid, text FROM engram_fts_1 ORDER BY rowid')
        ).map((r) => r.text)
      await store.upsert('docs', [
        { id: 'a', vector: [1, 0], text: 'alpha one' },
        { id: 'b', vector: [0, 1], text: 'beta two' },
        { id: 'c', vector: [1, 1] },
      ])
      expect(await ftsRows()).toEqual(['alpha one', 'beta two'])
      await store.upsert('docs', [
        { id: 'a', vector: [1, 0], text: 'alpha again' },
        { id: 'b', vector: [0, 1] },
        { id: 'c', vector: [1, 1], text: 'gamma' },
      ])
      expect(await ftsRows()).toEqual(['alpha again', 'gamma'])
      await store.delete('docs', { ids: ['a'] })
      expect(await ftsRows()).toEqual(['gamma'])
      await store.delete('docs', { filter: {} })
      expect(await ftsRows()).toEqual([])
      await store.close()
    })
  }

  it('treats FTS syntax in query text as plain words', async () => {
    const store = createSqliteVectorStore({ adapter: memory() })
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', [
      { id: 'near', vector: [1, 0], text: 'NEAR the text column' },
      { id: 'other', vector: [0, 1], text: 'unrelated' },
    ])
    for (const text of ['"', 'NEAR(', 'text:column', '* OR -', 'a AND', '^near', "'); DROP TABLE x; --"]) {
      const matches = await store.query('docs', { text, mode: 'text' })
      expect(
        matches.every((m) => m.id === 'near'),
        text,
      ).toBe(true)
    }
    expect((await store.query('docs', { text: 'column NEAR', mode: 'text' })).map((m) => m.id)).toEqual([
      'near',
    ])
    expect(await store.query('docs', { text: '*** ---', mode: 'text' })).toEqual([])
    expect(ftsMatchQuery('say "hi" OR bye')).toBe('"say" OR "hi" OR "or" OR "bye"')
    await store.close()
  })

  it('ranks FTS4 matches by BM25 like FTS5 does', async () => {
    const texts = ['kiwi', 'kiwi kiwi mango', 'mango papaya guava lime kiwi', 'papaya', 'lime lime']
    const order: string[][] = []
    for (const fts of ['fts5', 'fts4'] as const) {
      const native = memory()
      const store = createSqliteVectorStore({ adapter: fts === 'fts5' ? native : withFts(native, 'fts4') })
      await store.createCollection('docs', { dimension: 2 })
      await store.upsert(
        'docs',
        texts.map((text, i) => ({ id: `t${i}`, vector: [1, i], text })),
      )
      order.push((await store.query('docs', { text: 'kiwi lime', mode: 'text' })).map((m) => m.id))
      await store.close()
    }
    expect(order[0]).toHaveLength(4)
    expect(order[1]).toEqual(order[0])
  })
})

describe('createSqliteVectorStore', () => {
  it('refuses a Postgres adapter with a pointer to the right store', () => {
    const adapter = { ...memory(), dialect: 'postgres' } as StorageAdapter
    expect(() => createSqliteVectorStore({ adapter })).toThrow(/@engram\/postgres/)
  })

  it('says how to call it when given the adapter itself instead of { adapter }', () => {
    const adapter = memory()
    expect(() => createSqliteVectorStore(adapter as never)).toThrow(
      /createSqliteVectorStore\(\{ adapter \}\)/,
    )
  })

  it('stores each collection in tables named by its registry key, never by its name', async () => {
    const db = memory()
    const store = createSqliteVectorStore({ adapter: db })
    await store.createCollection('Mixed-Case_name', { dimension: 2 })
    await store.createCollection('mixed-case_name', { dimension: 3 })
    const tables = await db.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'engram_vec_%' ORDER BY name",
    )
    expect(tables.map((t) => t.name)).toEqual(['engram_vec_1', 'engram_vec_2'])
    expect(await store.listCollections()).toEqual(['Mixed-Case_name', 'mixed-case_name'])
    await store.close()
  })

  it('fails with CLOSED after close() and leaves the adapter it was given open', async () => {
    const db = memory()
    const store = createSqliteVectorStore({ adapter: db })
    await store.createCollection('docs', { dimension: 2 })
    await store.close()
    await expect(store.query('docs', { vector: [1, 0] })).rejects.toMatchObject({ code: 'CLOSED' })
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 })
  })

  it("is kind 'sqlite-vector' and exact unless the ANN tier is on", () => {
    const exact = createSqliteVectorStore({ adapter: memory() })
    const ann = createSqliteVectorStore({ adapter: memory(), ann: { path: ':memory:' } })
    expect(exact.kind).toBe('sqlite-vector')
    expect(exact.capabilities.exact).toBe(true)
    expect(ann.capabilities.exact).toBe(false)
  })

  it('refuses bad options at once, naming the option', () => {
    const adapter = memory()
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ exactBelow: -1 }, /exactBelow/],
      [{ exactBelow: 1.5 }, /exactBelow/],
      [{ termPruningThreshold: 0 }, /termPruningThreshold/],
      [{ commonTermFraction: 0 }, /commonTermFraction/],
      [{ exactCacheBytes: Number.NaN }, /exactCacheBytes/],
      [{ ann: {} }, /ann\.path/],
      [{ ann: { path: ':memory:', m: 1 } }, /ann\.m/],
      [{ ann: { path: ':memory:', efConstruction: 0 } }, /ann\.efConstruction/],
      [{ ann: { path: ':memory:', efSearch: '64' } }, /ann\.efSearch/],
      [{ ann: { path: ':memory:', persistEvery: 0 } }, /ann\.persistEvery/],
      [{ ann: { path: ':memory:', createIndex: 'hnsw' } }, /ann\.createIndex/],
    ]
    for (const [options, message] of bad) {
      expect(() => createSqliteVectorStore({ adapter, ...options })).toThrow(message)
    }
    expect(() => createSqliteVectorStore({ adapter, exactBelow: 0 })).not.toThrow()
  })

  it("opens each collection's index with core's HNSW defaults, or the m, efConstruction and efSearch given", async () => {
    for (const given of [{}, { m: 8, efConstruction: 40, efSearch: 20 }]) {
      const opened: AnnIndexOptions[] = []
      const store = createSqliteVectorStore({
        adapter: memory(),
        exactBelow: 1,
        ann: {
          path: ':memory:',
          ...given,
          createIndex: (options) => {
            opened.push(options)
            return createHnswIndex(options)
          },
          removeIndex: async () => {},
        },
      })
      await store.createCollection('docs', { dimension: 2, metric: 'dot' })
      await store.upsert('docs', [{ id: 'a', vector: [1, 0] }])
      expect((await store.query('docs', { vector: [1, 0] }))[0]?.id).toBe('a')
      expect(opened).toEqual([{ dimension: 2, metric: 'dot', ...HNSW_DEFAULTS, ...given }])
      await store.close()
    }
  })

  it('says a collection made without full text cannot answer text queries, even on a store that has it', async () => {
    const db = memory()
    const plain = createSqliteVectorStore({ adapter: withFts(db, false) })
    await plain.createCollection('docs', { dimension: 2 })
    await plain.upsert('docs', [{ id: 'a', vector: [1, 0], text: 'kiwi' }])
    const store = createSqliteVectorStore({ adapter: db })
    await expect(store.query('docs', { text: 'kiwi' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/no full-text index.*mode 'vector'/),
    })
    expect((await store.query('docs', { vector: [1, 0] }))[0]?.id).toBe('a')
  })
})

describe('sqlite-vector term pruning', () => {
  // 40 records: every text has "the", all but three have "note", three have "kiwi".
  const records = Array.from({ length: 40 }, (_, i) => ({
    id: `r${String(i).padStart(2, '0')}`,
    vector: [1, i],
    text: i < 3 ? `the kiwi tart ${i}` : `the plain note ${i % 7}`,
  }))
  const ranked = (matches: ReadonlyArray<{ id: string; score: number }>) =>
    matches.map((m) => [m.id, m.score])

  for (const flavour of ['fts5', 'fts4'] as const) {
    async function open(config: { termPruningThreshold?: number } = {}) {
      const db = flavour === 'fts5' ? memory() : withFts(memory(), 'fts4')
      const store = createSqliteVectorStore({ adapter: db, commonTermFraction: 0.5, ...config })
      await store.createCollection('docs', { dimension: 2 })
      await store.upsert('docs', records)
      return store
    }

    it(`drops a word found in most records of a large collection (${flavour})`, async () => {
      const store = await open({ termPruningThreshold: 20 })
      const withCommon = await store.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })
      expect(ranked(withCommon)).toEqual(
        ranked(await store.query('docs', { text: 'kiwi', mode: 'text', topK: 40 })),
      )
      expect(withCommon.map((m) => m.id)).toEqual(['r00', 'r01', 'r02'])
      await store.close()
    })

    it(`searches every word below the pruning threshold (${flavour})`, async () => {
      const store = await open()
      expect(await store.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })).toHaveLength(40)
      await store.close()
    })

    it(`keeps the rarest word when every word is common (${flavour})`, async () => {
      const store = await open({ termPruningThreshold: 20 })
      const matches = await store.query('docs', { text: 'the note', mode: 'text', topK: 40 })
      expect(matches).toHaveLength(37)
      expect(ranked(matches)).toEqual(
        ranked(await store.query('docs', { text: 'note', mode: 'text', topK: 40 })),
      )
      expect(await store.query('docs', { text: 'the', mode: 'text', topK: 40 })).toHaveLength(40)
      await store.close()
    })

    it(`fuses hybrid results from the pruned text list (${flavour})`, async () => {
      const store = await open({ termPruningThreshold: 20 })
      const vector = Float32Array.from([0.2, 1])
      const vectorList = await store.query('docs', { vector, mode: 'vector', topK: 40 })
      const textList = await store.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })
      const fused = reciprocalRankFusion([vectorList, textList], { limit: 10 })
      const hybrid = await store.query('docs', { vector, text: 'the kiwi', mode: 'hybrid', topK: 10 })
      expect(hybrid.map((m) => m.id)).toEqual(fused.map((f) => f.id))
      await store.close()
    })
  }
})
