import type { DeleteTarget, Filter, VectorQuery, VectorRecord } from '@engram/core'
import { expect, it } from 'vitest'
import {
  collectBatches,
  expectCode,
  type Skipper,
  type SuiteSettings,
  sortedIds,
  useStore,
} from './vector-suite-harness.js'

/** Ids that every store must refuse, in every call that takes ids. */
const REFUSED_IDS: ReadonlyArray<[label: string, id: unknown]> = [
  ['an empty id', ''],
  ['an id of 513 characters', 'x'.repeat(513)],
  ['a numeric id', 7],
  ['an id with a lone high surrogate', 'T\uD800'],
  ['an id with a lone low surrogate', 'T\uDC00'],
  ['an id with a NUL character', 'T\u0000'],
]

const BAD_BATCH_SIZES: readonly unknown[] = [0, -1, 1.5, 10_001, '10', Number.NaN]

/** A filter nested `depth` levels deep in `$and`. */
function nested(depth: number): Filter {
  let filter: Filter = { tag: 'a' }
  for (let i = 0; i < depth; i++) filter = { $and: [filter] }
  return filter
}

/** A filter of `n` conditions side by side in one `$or`. */
function wide(n: number): Filter {
  return { $or: Array.from({ length: n }, (_, i) => ({ tag: `t${i}` })) }
}

/**
 * The rules every store inherits from core's vector-store skeleton: which ids, strings, delete
 * targets, scan sizes and filters are refused, and that a refusal changes nothing.
 */
export function inputRuleTests(settings: SuiteSettings): void {
  const h = useStore(settings)

  /** A 2-dimension collection holding `a` (tag a) and `b` (tag b). */
  async function twoRecords(): Promise<string> {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'a', vector: [1, 0], metadata: { tag: 'a' } },
      { id: 'b', vector: [0, 1], metadata: { tag: 'b' } },
    ])
    return name
  }

  function requireOperator(ctx: Skipper, operator: string): void {
    ctx.skip(!h.store.capabilities.operators.includes(operator), `the store does not support ${operator}`)
  }

  async function expectUnchanged(name: string): Promise<void> {
    await h.settle()
    expect(await h.store.count(name)).toBe(2)
    expect(sortedIds(await h.store.get(name, ['a', 'b']))).toEqual(['a', 'b'])
  }

  for (const [label, id] of REFUSED_IDS) {
    it(`${label} is INVALID_ARGUMENT in upsert, get and delete, and changes nothing`, async () => {
      const name = await twoRecords()
      const record = { id, vector: [1, 1] } as unknown as VectorRecord
      await expectCode(() => h.store.upsert(name, [{ id: 'c', vector: [1, 1] }, record]), 'INVALID_ARGUMENT')
      await expectCode(() => h.store.get(name, ['a', id as string]), 'INVALID_ARGUMENT')
      await expectCode(() => h.store.delete(name, { ids: ['a', id as string] }), 'INVALID_ARGUMENT')
      await expectUnchanged(name)
    })
  }

  it('an id with U+FFFD (a valid character) round-trips and stays distinct from its neighbours', async () => {
    const name = await h.collection({ dimension: 2 })
    await h.load(name, [
      { id: 'T\uFFFD', vector: [1, 0] },
      { id: 'T', vector: [0, 1] },
      { id: 'T\u{1F600}', vector: [1, 1] },
    ])
    const found = await h.store.get(name, ['T\uFFFD', 'T\u{1F600}'])
    expect(found.map((record) => record.id)).toEqual(['T\uFFFD', 'T\u{1F600}'])
    expect(await h.store.delete(name, { ids: ['T\uFFFD'] })).toBe(1)
    await h.settle()
    expect(sortedIds(await h.store.get(name, ['T', 'T\uFFFD', 'T\u{1F600}']))).toEqual(['T', 'T\u{1F600}'])
  })

  it('get answers in the order the ids were asked for, each id once', async () => {
    const name = await twoRecords()
    const found = await h.store.get(name, ['b', 'missing', 'a', 'b'])
    expect(found.map((record) => record.id)).toEqual(['b', 'a'])
  })

  it('text or a metadata string with a NUL or a lone surrogate is INVALID_ARGUMENT and the batch writes nothing', async () => {
    const name = await twoRecords()
    const bad: VectorRecord[] = [
      { id: 'c', vector: [1, 1], text: 'nul \u0000 here' },
      { id: 'c', vector: [1, 1], text: 'half \uD83D pair' },
      { id: 'c', vector: [1, 1], metadata: { tag: 'nul\u0000' } },
      { id: 'c', vector: [1, 1], metadata: { tags: ['ok', '\uDFFF'] } },
    ]
    for (const record of bad) {
      await expectCode(() => h.store.upsert(name, [{ id: 'd', vector: [0, 0] }, record]), 'INVALID_ARGUMENT')
    }
    await expectUnchanged(name)
  })

  it('a query text with a lone surrogate is INVALID_ARGUMENT', async (ctx) => {
    ctx.skip(!h.store.capabilities.hybrid, 'the store has no text search')
    const name = await twoRecords()
    await expectCode(() => h.store.query(name, { text: 'a\uD800', mode: 'text' }), 'INVALID_ARGUMENT')
  })

  it('delete with both ids and a filter is INVALID_ARGUMENT and removes nothing', async () => {
    const name = await twoRecords()
    const both = { ids: ['a'], filter: { tag: 'b' } } as unknown as DeleteTarget
    await expectCode(() => h.store.delete(name, both), 'INVALID_ARGUMENT')
    await expectUnchanged(name)
  })

  it('delete with ids that are not an array is INVALID_ARGUMENT', async () => {
    const name = await twoRecords()
    await expectCode(() => h.store.delete(name, { ids: 'a' } as unknown as DeleteTarget), 'INVALID_ARGUMENT')
    await expectUnchanged(name)
  })

  for (const batchSize of BAD_BATCH_SIZES) {
    it(`scan with batchSize ${String(batchSize)} is INVALID_ARGUMENT`, async () => {
      const name = await twoRecords()
      await expectCode(
        () => collectBatches(h.store.scan(name, { batchSize: batchSize as number })),
        'INVALID_ARGUMENT',
      )
    })
  }

  it('scan accepts batchSize 10,000 and 1', async () => {
    const name = await twoRecords()
    expect((await collectBatches(h.store.scan(name, { batchSize: 10_000 }))).flat()).toHaveLength(2)
    expect(await collectBatches(h.store.scan(name, { batchSize: 1 }))).toHaveLength(2)
  })

  it('a filter nested 10,000 levels deep is INVALID_ARGUMENT in query, count, delete and scan', async (ctx) => {
    requireOperator(ctx, '$and')
    const name = await twoRecords()
    const deep = nested(10_000)
    await expectCode(() => h.store.query(name, { vector: [1, 0], filter: deep }), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.count(name, deep), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.delete(name, { filter: deep }), 'INVALID_ARGUMENT')
    await expectCode(() => collectBatches(h.store.scan(name, { filter: deep })), 'INVALID_ARGUMENT')
    await expectUnchanged(name)
  })

  it('a filter nested 32 levels deep is accepted', async (ctx) => {
    requireOperator(ctx, '$and')
    const name = await twoRecords()
    expect(await h.store.count(name, nested(32))).toBe(1)
  })

  it('a filter of more than 1,000 conditions is INVALID_ARGUMENT, and one of 1,000 is accepted', async (ctx) => {
    requireOperator(ctx, '$or')
    const name = await twoRecords()
    await expectCode(() => h.store.count(name, wide(1_001)), 'INVALID_ARGUMENT')
    const accepted = { $or: [...(wide(999).$or as Filter[]), { tag: 'a' }] }
    expect(await h.store.count(name, accepted)).toBe(1)
  })

  it('a filter string with a lone surrogate is INVALID_ARGUMENT', async (ctx) => {
    requireOperator(ctx, '$in')
    const name = await twoRecords()
    await expectCode(() => h.store.count(name, { tag: 'a\uD800' }), 'INVALID_ARGUMENT')
    await expectCode(() => h.store.count(name, { tag: { $in: ['a', '\uDC00'] } }), 'INVALID_ARGUMENT')
  })

  it('includeVectors that is not a boolean is INVALID_ARGUMENT, not read as on or off', async () => {
    const name = await twoRecords()
    for (const includeVectors of ['false', 1, null]) {
      const query = { vector: [1, 0], includeVectors } as unknown as VectorQuery
      await expectCode(() => h.store.query(name, query), 'INVALID_ARGUMENT')
    }
  })

  it('topK above capabilities.maxTopK is INVALID_ARGUMENT', async () => {
    const name = await twoRecords()
    const limit = h.store.capabilities.maxTopK ?? 10_000
    await expectCode(() => h.store.query(name, { vector: [1, 0], topK: limit + 1 }), 'INVALID_ARGUMENT')
    expect(await h.store.query(name, { vector: [1, 0], topK: limit })).toHaveLength(2)
  })
}
