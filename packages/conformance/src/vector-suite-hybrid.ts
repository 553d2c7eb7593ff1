import { type Filter, reciprocalRankFusion, type VectorQuery, validateFilter } from '@engram/core'
import { expect, it } from 'vitest'
import { type FixtureRecord, FRUIT_TEXTS, hybridDataSet, randomVectors } from './vector-fixtures.js'
import {
  expectCode,
  expectDescending,
  expectExactRanking,
  expectScore,
  referenceIds,
  type Skipper,
  type SuiteSettings,
  sortedIds,
  useStore,
} from './vector-suite-harness.js'

// RRF scores are small (about 1/61); a wrong rank base or k moves them by more than 1e-4.
const RRF_TOLERANCE = 1e-6

const textRecords = (items: ReadonlyArray<{ id: string; text?: string }>): FixtureRecord[] =>
  items.map(({ id, text }, i) => ({
    id,
    vector: Float32Array.from([1, i]),
    ...(text === undefined ? {} : { text }),
  }))

/**
 * One record matches both the query vector (second best) and the text; one is the best vector
 * match without the word; one repeats the word but points away. Under RRF (k = 60) the record in
 * both lists near the top must win: 1/62 + 1/62 beats 1/61 alone and 1/61 + 1/83.
 */
function fusionTrap(): FixtureRecord[] {
  const record = (id: string, vector: number[], text: string, group: string): FixtureRecord => ({
    id,
    vector: Float32Array.from(vector),
    text,
    metadata: { group },
  })
  const fillers = Array.from({ length: 20 }, (_, i) =>
    record(
      `filler-${String(i).padStart(2, '0')}`,
      [0, 1, i / 20, 0],
      `plain filler words ${i}`,
      i < 10 ? 'a' : 'b',
    ),
  )
  return [
    record('vector-only', [1, 0, 0, 0], 'nothing relevant here', 'a'),
    record('both', [0.9, 0.3, 0, 0], 'zebra crossing', 'a'),
    record('text-only', [-1, 0, 0, 0], 'zebra zebra zebra', 'b'),
    ...fillers,
  ]
}

/** Full-text and hybrid search; skipped when the store reports `capabilities.hybrid: false`. */
export function hybridTests(settings: SuiteSettings): void {
  const h = useStore(settings)
  const requireHybrid = (ctx: Skipper) =>
    ctx.skip(!h.store.capabilities.hybrid, 'the store has no text search')

  async function textIds(name: string, text: string, filter?: Filter): Promise<string[]> {
    const query: VectorQuery = { text, mode: 'text', topK: 100, ...(filter ? { filter } : {}) }
    return sortedIds(await h.store.query(name, query))
  }

  /** Checks that the store's hybrid list is RRF over its own vector-mode and text-mode lists. */
  async function expectFusion(name: string, query: VectorQuery & { vector: Float32Array; text: string }) {
    const size = await h.store.count(name)
    const { vector, text, filter, rrfK } = query
    const filtered = filter ? { filter } : {}
    const vectorList = await h.store.query(name, { vector, mode: 'vector', topK: size, ...filtered })
    const textList = await h.store.query(name, { text, mode: 'text', topK: size, ...filtered })
    expect(textList.length, 'the text list must be a proper, non-empty subset').toBeGreaterThan(0)
    expect(textList.length, 'the text list must be a proper, non-empty subset').toBeLessThan(
      vectorList.length,
    )
    const fused = reciprocalRankFusion([vectorList, textList], rrfK === undefined ? {} : { k: rrfK })
    const hybrid = await h.store.query(name, { ...query, mode: 'hybrid', topK: 10 })
    expect(hybrid).toHaveLength(10)
    const fusedScore = new Map(fused.map((f) => [f.id, f.score]))
    hybrid.forEach((match, i) => {
      expectScore(match.score, fused[i]?.score ?? Number.NaN, RRF_TOLERANCE, `score at rank ${i + 1}`)
      expectScore(match.score, fusedScore.get(match.id) ?? Number.NaN, RRF_TOLERANCE, `score of ${match.id}`)
    })
    expectExactRanking(hybrid, fused, RRF_TOLERANCE)
  }

  it('text mode returns only records whose text contains a query word, best first', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(name, textRecords(FRUIT_TEXTS))
    const matches = await h.store.query(name, { text: 'apple banana', mode: 'text', topK: 10 })
    expect(sortedIds(matches)).toEqual(['t-apple', 't-banana', 't-both'])
    expect(matches[0]?.id).toBe('t-both')
    expectDescending(matches)
  })

  it('text mode matches whole words, not substrings', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(name, textRecords(FRUIT_TEXTS))
    expect(await textIds(name, 'apple')).toEqual(['t-apple', 't-both'])
    expect(await textIds(name, 'pineapple')).toEqual(['t-pineapple'])
  })

  it('text queries are case-insensitive', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      textRecords([
        { id: 'q', text: 'Quantum Physics Lecture' },
        { id: 'c', text: 'classical mechanics' },
      ]),
    )
    expect(await textIds(name, 'quantum')).toEqual(['q'])
    expect(await textIds(name, 'QUANTUM')).toEqual(['q'])
    expect(await textIds(name, 'pHySiCs')).toEqual(['q'])
  })

  it('non-ASCII words match regardless of case', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      textRecords([
        { id: 'fr', text: 'Café Crème Brûlée' },
        { id: 'en', text: 'plain coffee' },
      ]),
    )
    expect(await textIds(name, 'CAFÉ')).toEqual(['fr'])
    expect(await textIds(name, 'brûlée')).toEqual(['fr'])
  })

  it('text mode respects topK', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(name, textRecords(FRUIT_TEXTS))
    const matches = await h.store.query(name, { text: 'apple banana', mode: 'text', topK: 2 })
    expect(matches.map((m) => m.id)).toHaveLength(2)
    expect(matches[0]?.id).toBe('t-both')
  })

  it('a record matching both the vector and the text ranks above records matching only one', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 4 })
    await h.load(name, fusionTrap())
    const matches = await h.store.query(name, {
      vector: [1, 0, 0, 0],
      text: 'zebra',
      mode: 'hybrid',
      topK: 5,
    })
    expect(matches[0]?.id).toBe('both')
    const ids = matches.map((m) => m.id)
    expect(ids).toContain('vector-only')
    expect(ids).toContain('text-only')
    expectDescending(matches)
  })

  it('text and hybrid queries respect the filter', async (ctx) => {
    requireHybrid(ctx)
    const records = fusionTrap()
    const filter = { group: 'b' }
    const allowed = referenceIds(records, validateFilter(filter))
    const name = await h.collection({ dimension: 4 })
    await h.load(name, records)
    expect(await textIds(name, 'zebra', filter)).toEqual(['text-only'])
    const query: VectorQuery = { vector: [1, 0, 0, 0], text: 'zebra', mode: 'hybrid', topK: 50, filter }
    const hybrid = await h.store.query(name, query)
    expect(hybrid.map((m) => m.id)).toContain('text-only')
    for (const match of hybrid) expect(allowed, `${match.id} does not match the filter`).toContain(match.id)
  })

  it("replacing a record's text changes what text search finds", async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      textRecords([
        { id: 'r', text: 'ancient pottery shards' },
        { id: 'o', text: 'pottery wheel' },
      ]),
    )
    expect(await textIds(name, 'pottery')).toEqual(['o', 'r'])
    await h.load(name, [{ id: 'r', vector: [1, 0], text: 'modern glass sculpture' }])
    expect(await textIds(name, 'pottery')).toEqual(['o'])
    expect(await textIds(name, 'ancient')).toEqual([])
    expect(await textIds(name, 'sculpture')).toEqual(['r'])
  })

  it('replacing a record with one without text removes it from text search', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      textRecords([
        { id: 'r', text: 'lighthouse keeper' },
        { id: 'o', text: 'lighthouse beam' },
      ]),
    )
    await h.load(name, [{ id: 'r', vector: [1, 0] }])
    expect(await textIds(name, 'lighthouse')).toEqual(['o'])
  })

  it('a deleted record is no longer found by text search', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(
      name,
      textRecords([
        { id: 'd1', text: 'violin concerto' },
        { id: 'd2', text: 'violin sonata' },
      ]),
    )
    await h.store.delete(name, { ids: ['d1'] })
    await h.settle()
    expect(await textIds(name, 'violin')).toEqual(['d2'])
    expect(await textIds(name, 'concerto')).toEqual([])
  })

  it("hybrid scores equal core's reciprocalRankFusion over the store's own vector and text lists (k = 60)", async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 8 })
    await h.load(name, hybridDataSet(40, 8, 31))
    await expectFusion(name, { vector: randomVectors(1, 8, 32)[0] as Float32Array, text: 'river canyon' })
  })

  it('hybrid fusion uses the rrfK given in the query', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 8 })
    await h.load(name, hybridDataSet(40, 8, 33))
    await expectFusion(name, {
      vector: randomVectors(1, 8, 34)[0] as Float32Array,
      text: 'ocean glacier',
      rrfK: 5,
    })
  })

  it('hybrid with a filter fuses the filtered vector and text lists', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 8 })
    await h.load(name, hybridDataSet(60, 8, 35))
    const vector = randomVectors(1, 8, 36)[0] as Float32Array
    await expectFusion(name, { vector, text: 'forest meadow', filter: { half: 'odd' } })
  })

  it('a query with a vector and text defaults to hybrid, and one with only text to text mode', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 8 })
    await h.load(name, hybridDataSet(30, 8, 37))
    const vector = randomVectors(1, 8, 38)[0] as Float32Array
    const pick = (matches: ReadonlyArray<{ id: string; score: number }>) =>
      matches.map((m) => [m.id, m.score])
    const hybrid = await h.store.query(name, { vector, text: 'valley island', mode: 'hybrid' })
    expect(pick(await h.store.query(name, { vector, text: 'valley island' }))).toEqual(pick(hybrid))
    const text = await h.store.query(name, { text: 'valley island', mode: 'text' })
    expect(text.length).toBeGreaterThan(0)
    expect(pick(await h.store.query(name, { text: 'valley island' }))).toEqual(pick(text))
  })

  it('a text or hybrid query without text is INVALID_ARGUMENT', async (ctx) => {
    requireHybrid(ctx)
    const name = await h.collection({ dimension: 2 })
    await h.load(name, textRecords(FRUIT_TEXTS))
    await expectCode(() => h.store.query(name, { mode: 'text' }), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.query(name, { vector: [1, 0], mode: 'hybrid' }), 'INVALID_ARGUMENT')
  })
}
