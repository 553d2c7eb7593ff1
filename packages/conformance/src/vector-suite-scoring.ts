import { similarity, type VectorMetric, validateFilter } from '@engram/core'
import { expect, it } from 'vitest'
import { type FixtureRecord, filterDataSet, randomRecords, randomVectors } from './vector-fixtures.js'
import {
  expectDescending,
  expectExactRanking,
  expectScore,
  expectVector,
  recall,
  referenceIds,
  type SuiteSettings,
  sortedIds,
  useStore,
} from './vector-suite-harness.js'

const METRICS: readonly VectorMetric[] = ['cosine', 'dot', 'euclidean']

/** Every record's exact score against `query`, best first (ties by id). */
function exactRanking(metric: VectorMetric, records: readonly FixtureRecord[], query: Float32Array) {
  return records
    .map((record) => ({ id: record.id, score: similarity(metric, query, record.vector) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
}

/** What scores mean for each metric, and that ranking is exact (or has high recall for ANN stores). */
export function scoringTests(settings: SuiteSettings): void {
  const h = useStore(settings)
  const tolerance = settings.tolerance

  /** Creates a collection of `metric`, loads `records` and returns the best match for `vector`. */
  async function scoreOf(metric: VectorMetric, records: FixtureRecord[], vector: number[], id: string) {
    const name = await h.collection({ dimension: vector.length, metric })
    await h.load(name, records)
    const matches = await h.store.query(name, { vector, topK: records.length })
    const match = matches.find((m) => m.id === id)
    expect(match, `${id} is missing from the results`).toBeDefined()
    return match?.score
  }

  const v = (id: string, ...components: number[]): FixtureRecord => ({
    id,
    vector: Float32Array.from(components),
  })

  it('a stored vector queried by itself scores 1 under cosine', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    expectScore(await scoreOf('cosine', [v('a', 0.3, -1.2, 2.5)], [0.3, -1.2, 2.5], 'a'), 1, tolerance)
  })

  it('a stored vector queried by itself scores its squared length under dot', async (ctx) => {
    h.requireMetric(ctx, 'dot')
    expectScore(await scoreOf('dot', [v('a', 1, -2, 3)], [1, -2, 3], 'a'), 14, tolerance)
  })

  it('a stored vector queried by itself scores 0 under euclidean', async (ctx) => {
    h.requireMetric(ctx, 'euclidean')
    expectScore(await scoreOf('euclidean', [v('a', 1, -2, 3)], [1, -2, 3], 'a'), 0, tolerance)
  })

  it('the opposite vector scores -1 under cosine', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    expectScore(await scoreOf('cosine', [v('a', 1, 2, 3)], [-2, -4, -6], 'a'), -1, tolerance)
  })

  it('an orthogonal vector scores 0 under cosine', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    expectScore(await scoreOf('cosine', [v('a', 1, 1, 0)], [1, -1, 5], 'a'), 0, tolerance)
  })

  it('cosine ignores vector length', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    expectScore(await scoreOf('cosine', [v('a', 0.5, 1, 0)], [50, 100, 0], 'a'), 1, tolerance)
  })

  it('an all-zero vector scores 0 under cosine', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    expectScore(
      await scoreOf('cosine', [v('zero', 0, 0, 0), v('a', 1, 0, 0)], [1, 2, 3], 'zero'),
      0,
      tolerance,
    )
  })

  it('dot scores are not normalised', async (ctx) => {
    h.requireMetric(ctx, 'dot')
    expectScore(await scoreOf('dot', [v('a', 2, 0, 0)], [3, 1, 0], 'a'), 6, tolerance)
  })

  it('euclidean scores are the negative distance', async (ctx) => {
    h.requireMetric(ctx, 'euclidean')
    expectScore(await scoreOf('euclidean', [v('a', 3, 4, 0)], [0, 0, 0], 'a'), -5, tolerance)
  })

  it('results are sorted by score, best first', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [v('far', -1, 0), v('near', 1, 0.1), v('middle', 0, 1), v('close', 1, 0.5)])
    const matches = await h.store.query(name, { vector: [1, 0], topK: 4 })
    expect(matches.map((m) => m.id)).toEqual(['near', 'close', 'middle', 'far'])
    expectDescending(matches)
  })

  it('topK limits the number of results', async () => {
    const name = await h.collection({ dimension: 4 })
    await h.load(name, randomRecords(30, 4, 11))
    expect(await h.store.query(name, { vector: [1, 0, 0, 0], topK: 7 })).toHaveLength(7)
  })

  it('topK larger than the collection returns every record', async () => {
    const name = await h.collection({ dimension: 4 })
    const records = randomRecords(12, 4, 12)
    await h.load(name, records)
    const matches = await h.store.query(name, { vector: [1, 0, 0, 0], topK: 500 })
    expect(sortedIds(matches)).toEqual(sortedIds(records))
  })

  it('topK defaults to 10', async () => {
    const name = await h.collection({ dimension: 4 })
    await h.load(name, randomRecords(25, 4, 13))
    expect(await h.store.query(name, { vector: [1, 0, 0, 0] })).toHaveLength(10)
  })

  for (const metric of METRICS) {
    it(`on a seeded 300×16 data set, ${metric} scores equal core's similarity() and the top 10 are exact`, async (ctx) => {
      h.requireMetric(ctx, metric)
      const records = randomRecords(300, 16, 21)
      const query = randomVectors(1, 16, 22)[0] as Float32Array
      const name = await h.collection({ dimension: 16, metric })
      await h.load(name, records)
      const matches = await h.store.query(name, { vector: query, topK: 10 })
      expect(matches).toHaveLength(10)
      expectDescending(matches)
      const byId = new Map(records.map((r) => [r.id, r]))
      for (const match of matches) {
        const record = byId.get(match.id)
        expect(record, `unknown id ${match.id}`).toBeDefined()
        expectScore(
          match.score,
          similarity(metric, query, record?.vector as Float32Array),
          tolerance,
          match.id,
        )
      }
      const expected = exactRanking(metric, records, query)
      if (settings.approximate) {
        expect(
          recall(
            matches,
            expected.slice(0, 10).map((e) => e.id),
          ),
        ).toBeGreaterThanOrEqual(0.9)
      } else {
        expectExactRanking(matches, expected, tolerance)
      }
    })
  }

  it('a filtered query returns the best matching records and still fills topK', async () => {
    const records = filterDataSet()
    const query = randomVectors(1, 8, 23)[0] as Float32Array
    const filter = { category: 'sports' }
    const allowed = new Set(referenceIds(records, validateFilter(filter)))
    expect(allowed.size).toBeGreaterThan(10)
    const name = await h.collection({ dimension: 8 })
    await h.load(name, records)
    const matches = await h.store.query(name, { vector: query, topK: 10, filter })
    expect(matches).toHaveLength(10)
    for (const match of matches)
      expect(allowed.has(match.id), `${match.id} does not match the filter`).toBe(true)
    const expected = exactRanking(
      'cosine',
      records.filter((r) => allowed.has(r.id)),
      query,
    )
    if (settings.approximate) {
      expect(
        recall(
          matches,
          expected.slice(0, 10).map((e) => e.id),
        ),
      ).toBeGreaterThanOrEqual(0.9)
    } else {
      expectExactRanking(matches, expected, tolerance)
    }
  })

  it("includeVectors returns each match's vector", async () => {
    const name = await h.collection({ dimension: 3 })
    const records = [v('a', 1, 2, 3), v('b', -1, 0.5, 2)]
    await h.load(name, records)
    const matches = await h.store.query(name, { vector: [1, 1, 1], topK: 2, includeVectors: true })
    expect(matches).toHaveLength(2)
    for (const match of matches) {
      expectVector(match.vector, records.find((r) => r.id === match.id)?.vector ?? [], tolerance)
    }
  })

  it('matches leave out vectors unless includeVectors is set', async () => {
    const name = await h.collection({ dimension: 3 })
    await h.load(name, [v('a', 1, 2, 3)])
    const [match] = await h.store.query(name, { vector: [1, 1, 1] })
    expect(match?.id).toBe('a')
    expect(match?.vector).toBeUndefined()
  })

  it('matches carry their metadata and text', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0], metadata: { tags: ['x', 'y'], n: 1.5 }, text: 'some words' },
      { id: 'b', vector: [0, 1] },
    ])
    const matches = await h.store.query(name, { vector: [1, 0], topK: 2 })
    expect(matches[0]).toMatchObject({ id: 'a', metadata: { tags: ['x', 'y'], n: 1.5 }, text: 'some words' })
    expect(matches[1]?.id).toBe('b')
    expect(matches[1]?.metadata ?? {}).toEqual({})
    expect(matches[1]?.text).toBeUndefined()
  })

  it('a query after an upsert that rewrote a returned record returns its new metadata and text', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0], metadata: { v: 1 }, text: 'first words' },
      { id: 'b', vector: [0, 1], metadata: { v: 1 } },
    ])
    const [before] = await h.store.query(name, { vector: [1, 0], topK: 1 })
    expect(before).toMatchObject({ id: 'a', metadata: { v: 1 }, text: 'first words' })
    await h.load(name, [{ id: 'a', vector: [1, 0], metadata: { v: 2 } }])
    const [after] = await h.store.query(name, { vector: [1, 0], topK: 1 })
    expect(after?.id).toBe('a')
    expect(after?.metadata).toEqual({ v: 2 })
    expect(after?.text).toBeUndefined()
    await h.store.delete(name, { ids: ['a'] })
    expect((await h.store.query(name, { vector: [1, 0], topK: 2 })).map((m) => m.id)).toEqual(['b'])
  })

  it('mutating the metadata of a match does not change what the next query returns', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'a', vector: [1, 0], metadata: { tags: ['x'] } }])
    const [first] = await h.store.query(name, { vector: [1, 0], topK: 1 })
    ;(first!.metadata!.tags as string[]).push('added')
    const [second] = await h.store.query(name, { vector: [1, 0], topK: 1 })
    expect(second?.metadata).toEqual({ tags: ['x'] })
  })
}
