import { compareCodePoints, FILTER_OPERATORS, type VectorMetric, type VectorStore } from '@engram/core'
import { expect, it } from 'vitest'
import {
  collectBatches,
  expectCode,
  type SuiteSettings,
  uniqueCollectionName,
  useStore,
} from './vector-suite-harness.js'

const METRICS: readonly VectorMetric[] = ['cosine', 'dot', 'euclidean']

const INVALID_NAMES: ReadonlyArray<[label: string, name: string]> = [
  ['an SQL injection (x"; DROP TABLE y; --)', 'x"; DROP TABLE y; --'],
  ['an empty name', ''],
  ['a name starting with a digit', '1abc'],
  ['a name of 200 characters', 'a'.repeat(200)],
  ['a name with a space', 'a b'],
  ['a name with a dot', 'a.b'],
  ['a name with a quote', "a'b"],
]

const INVALID_DIMENSIONS = [0, -1, 1.5, Number.NaN]

/** Every data operation, called on `name` with arguments valid for a 3-dimension collection. */
const DATA_OPERATIONS: ReadonlyArray<
  [operation: string, call: (store: VectorStore, name: string) => unknown]
> = [
  ['upsert', (store, name) => store.upsert(name, [{ id: 'a', vector: [1, 0, 0] }])],
  ['query', (store, name) => store.query(name, { vector: [1, 0, 0] })],
  ['get', (store, name) => store.get(name, ['a'])],
  ['delete', (store, name) => store.delete(name, { ids: ['a'] })],
  ['count', (store, name) => store.count(name)],
  ['scan', (store, name) => collectBatches(store.scan(name))],
]

/** Collections: create, describe, list, drop, and the validation of names and specs. */
export function lifecycleTests(settings: SuiteSettings): void {
  const h = useStore(settings)

  it('reports a kind and well-formed capabilities', () => {
    const { kind, capabilities } = h.store
    expect(typeof kind).toBe('string')
    expect(kind.length).toBeGreaterThan(0)
    expect(typeof capabilities.hybrid).toBe('boolean')
    expect(typeof capabilities.exact).toBe('boolean')
    for (const op of capabilities.operators) expect(FILTER_OPERATORS).toContain(op)
    expect(capabilities.metrics.length).toBeGreaterThan(0)
    for (const metric of capabilities.metrics) expect(METRICS).toContain(metric)
    expect(Number.isInteger(capabilities.maxDimension) && capabilities.maxDimension >= 1).toBe(true)
  })

  it('describeCollection reports the name, dimension, metric and a count of 0 for a new collection', async () => {
    for (const metric of h.store.capabilities.metrics) {
      const name = await h.collection({ dimension: 5, metric })
      expect(await h.store.describeCollection(name)).toEqual({ name, dimension: 5, metric, count: 0 })
    }
  })

  it('the metric defaults to cosine', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    const name = await h.collection({ dimension: 3 })
    expect((await h.store.describeCollection(name))?.metric).toBe('cosine')
  })

  it('describeCollection counts the records after upserts and deletes', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0] },
      { id: 'b', vector: [0, 1] },
      { id: 'c', vector: [1, 1] },
    ])
    expect((await h.store.describeCollection(name))?.count).toBe(3)
    await h.store.delete(name, { ids: ['b'] })
    await h.settle()
    expect((await h.store.describeCollection(name))?.count).toBe(2)
  })

  it('listCollections includes every collection, sorted by code point', async () => {
    const names = [h.reserve('b'), h.reserve('B'), h.reserve('a')]
    for (const name of names) await h.store.createCollection(name, { dimension: 2 })
    await h.settle()
    const listed = await h.store.listCollections()
    expect(listed).toEqual([...listed].sort(compareCodePoints))
    const ours = listed.filter((name) => names.includes(name))
    expect(ours).toEqual([...names].sort(compareCodePoints))
  })

  it('createCollection is idempotent for the same spec and keeps the records', async () => {
    const name = await h.collection({ dimension: 3, metric: 'cosine' })
    await h.load(name, [{ id: 'kept', vector: [1, 2, 3] }])
    await h.store.createCollection(name, { dimension: 3, metric: 'cosine' })
    await h.settle()
    expect(await h.store.describeCollection(name)).toEqual({ name, dimension: 3, metric: 'cosine', count: 1 })
  })

  it('an explicit cosine metric is the same spec as the default', async (ctx) => {
    h.requireMetric(ctx, 'cosine')
    const name = await h.collection({ dimension: 3 })
    await h.store.createCollection(name, { dimension: 3, metric: 'cosine' })
    expect((await h.store.describeCollection(name))?.metric).toBe('cosine')
  })

  it('createCollection with a different dimension is DIMENSION_MISMATCH and changes nothing', async () => {
    const name = await h.collection({ dimension: 3 })
    await h.load(name, [{ id: 'kept', vector: [1, 2, 3] }])
    await expectCode(() => h.store.createCollection(name, { dimension: 4 }), 'DIMENSION_MISMATCH')
    expect(await h.store.describeCollection(name)).toMatchObject({ dimension: 3, count: 1 })
  })

  it('createCollection with a different metric is DIMENSION_MISMATCH', async (ctx) => {
    const [first, second] = h.store.capabilities.metrics
    ctx.skip(second === undefined, 'the store supports only one metric')
    const name = await h.collection({ dimension: 3, metric: first as VectorMetric })
    await expectCode(
      () => h.store.createCollection(name, { dimension: 3, metric: second as VectorMetric }),
      'DIMENSION_MISMATCH',
    )
    expect((await h.store.describeCollection(name))?.metric).toBe(first)
  })

  it('describeCollection of a missing collection returns undefined', async () => {
    expect(await h.store.describeCollection(h.reserve())).toBeUndefined()
  })

  it('dropCollection of a missing collection is a no-op', async () => {
    await expect(h.store.dropCollection(h.reserve())).resolves.toBeUndefined()
  })

  it('dropCollection removes the collection from describe and list', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.store.dropCollection(name)
    await h.settle()
    expect(await h.store.describeCollection(name)).toBeUndefined()
    expect(await h.store.listCollections()).not.toContain(name)
  })

  it('dropCollection removes the records: recreating the collection starts at count 0', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [{ id: 'gone', vector: [1, 0] }])
    await h.store.dropCollection(name)
    await h.settle()
    await h.store.createCollection(name, { dimension: 2 })
    await h.settle()
    expect(await h.store.count(name)).toBe(0)
    expect(await h.store.get(name, ['gone'])).toEqual([])
  })

  for (const [label, name] of INVALID_NAMES) {
    it(`createCollection rejects ${label} with INVALID_ARGUMENT`, async () => {
      await expectCode(() => h.store.createCollection(name, { dimension: 3 }), 'INVALID_ARGUMENT')
    })
  }

  it('every operation rejects an unsafe collection name with INVALID_ARGUMENT', async () => {
    const unsafe = 'x"; DROP TABLE y; --'
    await expectCode(() => h.store.describeCollection(unsafe), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.dropCollection(unsafe), 'INVALID_ARGUMENT')
    for (const [, call] of DATA_OPERATIONS) await expectCode(() => call(h.store, unsafe), 'INVALID_ARGUMENT')
  })

  it('accepts a 63-character name of letters, digits, _ and -', async () => {
    const name = h.reserve('Ab-9_'.repeat(13).slice(0, 63 - uniqueCollectionName().length - 1))
    expect(name).toHaveLength(63)
    await h.store.createCollection(name, { dimension: 2 })
    await h.settle()
    expect((await h.store.describeCollection(name))?.name).toBe(name)
  })

  for (const dimension of INVALID_DIMENSIONS) {
    it(`createCollection rejects dimension ${dimension} with INVALID_ARGUMENT`, async () => {
      await expectCode(() => h.store.createCollection(h.reserve(), { dimension }), 'INVALID_ARGUMENT')
    })
  }

  it('createCollection rejects a dimension above capabilities.maxDimension with INVALID_ARGUMENT', async () => {
    const dimension = h.store.capabilities.maxDimension + 1
    await expectCode(() => h.store.createCollection(h.reserve(), { dimension }), 'INVALID_ARGUMENT')
  })

  it('createCollection rejects an unknown metric with INVALID_ARGUMENT', async () => {
    const spec = { dimension: 3, metric: 'manhattan' as VectorMetric }
    await expectCode(() => h.store.createCollection(h.reserve(), spec), 'INVALID_ARGUMENT')
  })

  it('createCollection with a metric outside capabilities.metrics is UNSUPPORTED', async (ctx) => {
    const missing = METRICS.filter((metric) => !h.store.capabilities.metrics.includes(metric))
    ctx.skip(missing.length === 0, 'the store supports every metric')
    for (const metric of missing) {
      const name = h.reserve()
      await expectCode(() => h.store.createCollection(name, { dimension: 3, metric }), 'UNSUPPORTED')
      expect(await h.store.describeCollection(name)).toBeUndefined()
    }
  })

  for (const [operation, call] of DATA_OPERATIONS) {
    it(`${operation} on a missing collection is NOT_FOUND`, async () => {
      await expectCode(() => call(h.store, h.reserve()), 'NOT_FOUND')
    })
  }
}
