import type { DeleteTarget, VectorRecord, VectorStore } from '@engram/core'
import { expect, it } from 'vitest'
import {
  collectBatches,
  expectCode,
  expectVector,
  type SuiteSettings,
  useStore,
} from './vector-suite-harness.js'

const INVALID_TOP_K = [0, 10_001, 1.5, -1]

const INVALID_METADATA: ReadonlyArray<[label: string, metadata: unknown]> = [
  ['a nested object', { nested: { a: 1 } }],
  ['a null value', { gone: null }],
  ['an undefined value', { gone: undefined }],
  ['a NaN value', { n: Number.NaN }],
  ['a list of numbers', { list: [1, 2] }],
  ['an unsafe key', { "a'; DROP TABLE t; --": 1 }],
  ['a dotted key', { 'a.b': 1 }],
  ['an array instead of an object', ['a']],
]

const INVALID_IDS: ReadonlyArray<[label: string, id: unknown]> = [
  ['an empty id', ''],
  ['an id of 513 characters', 'x'.repeat(513)],
  ['a numeric id', 42],
]

/** Every call of the contract on an existing collection, for the CLOSED check. */
const CALLS: ReadonlyArray<
  [operation: string, call: (store: VectorStore, name: string, spare: string) => unknown]
> = [
  ['createCollection', (store, _name, spare) => store.createCollection(spare, { dimension: 2 })],
  ['describeCollection', (store, name) => store.describeCollection(name)],
  ['listCollections', (store) => store.listCollections()],
  ['dropCollection', (store, name) => store.dropCollection(name)],
  ['upsert', (store, name) => store.upsert(name, [{ id: 'b', vector: [0, 1] }])],
  ['query', (store, name) => store.query(name, { vector: [1, 0] })],
  ['get', (store, name) => store.get(name, ['a'])],
  ['delete', (store, name) => store.delete(name, { ids: ['a'] })],
  ['count', (store, name) => store.count(name)],
  ['scan', (store, name) => collectBatches(store.scan(name))],
]

/** Invalid input, all-or-nothing batches and closing. */
export function edgeCaseTests(settings: SuiteSettings): void {
  const h = useStore(settings)
  const tolerance = settings.tolerance

  /** A 3-dimension collection holding one record, `keep`. */
  async function withOneRecord(): Promise<string> {
    const name = await h.collection({ dimension: 3 })
    await h.load(name, [{ id: 'keep', vector: [1, 2, 3], metadata: { v: 1 } }])
    return name
  }

  /** Asserts that upserting `records` fails with `code` and leaves only the `keep` record, unchanged. */
  async function expectBatchRejected(
    name: string,
    records: unknown[],
    code: 'INVALID_ARGUMENT' | 'DIMENSION_MISMATCH',
  ) {
    await expectCode(() => h.store.upsert(name, records as VectorRecord[]), code)
    await h.settle()
    expect(await h.store.count(name)).toBe(1)
    const [kept] = await h.store.get(name, ['keep'])
    expectVector(kept?.vector, [1, 2, 3], tolerance)
    expect(kept?.metadata).toEqual({ v: 1 })
  }

  const good = (id: string) => ({ id, vector: [0.5, 0.5, 0.5] })

  it('a record of the wrong dimension is DIMENSION_MISMATCH and the whole batch writes nothing', async () => {
    const name = await withOneRecord()
    await expectBatchRejected(
      name,
      [good('a'), { id: 'bad', vector: [1, 2] }, good('b')],
      'DIMENSION_MISMATCH',
    )
  })

  it('a rejected batch does not replace existing records it names', async () => {
    const name = await withOneRecord()
    const replacement = { id: 'keep', vector: [9, 9, 9], metadata: { v: 2 } }
    await expectBatchRejected(name, [replacement, { id: 'bad', vector: [1, 2, 3, 4] }], 'DIMENSION_MISMATCH')
  })

  it('NaN in a vector is INVALID_ARGUMENT and the batch writes nothing', async () => {
    const name = await withOneRecord()
    await expectBatchRejected(
      name,
      [good('a'), { id: 'nan', vector: [1, Number.NaN, 3] }],
      'INVALID_ARGUMENT',
    )
  })

  it('Infinity in a vector is INVALID_ARGUMENT and the batch writes nothing', async () => {
    const name = await withOneRecord()
    const infinite = { id: 'inf', vector: Float32Array.from([1, Number.POSITIVE_INFINITY, 3]) }
    await expectBatchRejected(name, [good('a'), infinite], 'INVALID_ARGUMENT')
  })

  it('a vector value too large for a 32-bit float is INVALID_ARGUMENT', async () => {
    const name = await withOneRecord()
    await expectBatchRejected(name, [good('a'), { id: 'big', vector: [1, 1e39, 3] }], 'INVALID_ARGUMENT')
  })

  it('a vector with a non-numeric component is INVALID_ARGUMENT', async () => {
    const name = await withOneRecord()
    await expectBatchRejected(name, [good('a'), { id: 'text', vector: [1, '2', 3] }], 'INVALID_ARGUMENT')
  })

  for (const [label, metadata] of INVALID_METADATA) {
    it(`metadata with ${label} is INVALID_ARGUMENT and the batch writes nothing`, async () => {
      const name = await withOneRecord()
      await expectBatchRejected(name, [good('a'), { ...good('b'), metadata }], 'INVALID_ARGUMENT')
    })
  }

  for (const [label, id] of INVALID_IDS) {
    it(`${label} is INVALID_ARGUMENT and the batch writes nothing`, async () => {
      const name = await withOneRecord()
      await expectBatchRejected(name, [good('a'), { id, vector: [1, 2, 3] }], 'INVALID_ARGUMENT')
    })
  }

  it('a query vector of the wrong dimension is DIMENSION_MISMATCH', async () => {
    const name = await withOneRecord()
    await expectCode(() => h.store.query(name, { vector: [1, 2] }), 'DIMENSION_MISMATCH')
    await expectCode(() => h.store.query(name, { vector: [1, 2, 3, 4] }), 'DIMENSION_MISMATCH')
  })

  it('NaN in a query vector is INVALID_ARGUMENT', async () => {
    const name = await withOneRecord()
    await expectCode(() => h.store.query(name, { vector: [1, Number.NaN, 3] }), 'INVALID_ARGUMENT')
  })

  it('a vector query without a vector is INVALID_ARGUMENT', async () => {
    const name = await withOneRecord()
    await expectCode(() => h.store.query(name, {}), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.query(name, { mode: 'vector', topK: 3 }), 'INVALID_ARGUMENT')
  })

  it('a query on an empty collection returns no matches', async () => {
    const name = await h.collection({ dimension: 3 })
    expect(await h.store.query(name, { vector: [1, 2, 3], topK: 5 })).toEqual([])
  })

  for (const topK of INVALID_TOP_K) {
    it(`topK ${topK} is INVALID_ARGUMENT`, async () => {
      const name = await withOneRecord()
      await expectCode(() => h.store.query(name, { vector: [1, 2, 3], topK }), 'INVALID_ARGUMENT')
    })
  }

  it('delete without ids or a filter is INVALID_ARGUMENT and removes nothing', async () => {
    const name = await withOneRecord()
    await expectCode(() => h.store.delete(name, {} as DeleteTarget), 'INVALID_ARGUMENT')
    expect(await h.store.count(name)).toBe(1)
  })

  it('a text query on a store without text search is UNSUPPORTED', async (ctx) => {
    ctx.skip(h.store.capabilities.hybrid, 'the store supports text search')
    const name = await withOneRecord()
    await expectCode(() => h.store.query(name, { text: 'anything', mode: 'text' }), 'UNSUPPORTED')
    await expectCode(() => h.store.query(name, { vector: [1, 2, 3], text: 'anything' }), 'UNSUPPORTED')
  })

  it('after close() every call fails with CLOSED', async () => {
    const name = await withOneRecord()
    const spare = h.reserve()
    await h.store.close()
    for (const [operation, call] of CALLS) {
      await expectCode(() => call(h.store, name, spare), 'CLOSED').catch((error: Error) => {
        throw new Error(`${operation}: ${error.message}`)
      })
    }
  })

  it('a second close() is a no-op', async () => {
    await h.store.close()
    await expect(h.store.close()).resolves.toBeUndefined()
  })
}
