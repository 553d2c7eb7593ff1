import { describe, expect, it } from 'vitest'
import { type Filter, matchesFilter, StorageError, validateFilter } from '../src/index.js'

const matches = (filter: Filter, metadata: Record<string, unknown>) =>
  matchesFilter(validateFilter(filter), metadata as never)
const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return error instanceof StorageError ? error.code : 'not a StorageError'
  }
  return 'no error'
}

describe('validateFilter', () => {
  it('turns implicit equality and several keys into an AND of comparisons', () => {
    expect(validateFilter({ a: 1, b: { $gt: 2 } })).toEqual({
      kind: 'and',
      children: [
        { kind: 'compare', field: 'a', op: '$eq', value: 1 },
        { kind: 'compare', field: 'b', op: '$gt', value: 2 },
      ],
    })
  })

  it('rejects unknown operators, naming them', () => {
    expect(() => validateFilter({ a: { $regex: 'x' } })).toThrow(/\$regex/)
    expect(() => validateFilter({ $not: { a: 1 } })).toThrow(/\$not/)
  })

  it('rejects malformed trees with INVALID_ARGUMENT', () => {
    for (const bad of [
      null,
      [],
      'x',
      { $and: {} },
      { $or: [] },
      { a: {} },
      { a: null },
      { a: { b: 1 } },
      { a: [1] },
      { a: { $in: 'x' } },
      { a: { $exists: 1 } },
      { a: { $gt: true } },
      { a: Number.NaN },
    ]) {
      expect(
        codeOf(() => validateFilter(bad)),
        JSON.stringify(bad),
      ).toBe('INVALID_ARGUMENT')
    }
  })

  it('rejects field names that could inject, with INVALID_ARGUMENT', () => {
    for (const field of ["a'b", 'a.b', 'x); DROP TABLE t; --', '', '1abc', 'a"b', `a${'x'.repeat(64)}`]) {
      expect(
        codeOf(() => validateFilter({ [field]: 1 })),
        field,
      ).toBe('INVALID_ARGUMENT')
    }
  })

  it('reports operators a store does not support as UNSUPPORTED', () => {
    expect(codeOf(() => validateFilter({ a: { $gt: 1 } }, { operators: ['$eq'] }))).toBe('UNSUPPORTED')
    expect(codeOf(() => validateFilter({ a: 1 }, { operators: ['$eq'] }))).toBe('no error')
  })
})

describe('matchesFilter', () => {
  const doc = { category: 'news', price: 10, tags: ['ai', 'ml'], active: true, code: '10' }

  it('matches equality strictly by type', () => {
    expect(matches({ price: 10 }, doc)).toBe(true)
    expect(matches({ code: 10 }, doc)).toBe(false)
    expect(matches({ active: 1 }, doc)).toBe(false)
  })

  it('treats $eq and $in on a list field as "contains"', () => {
    expect(matches({ tags: 'ai' }, doc)).toBe(true)
    expect(matches({ tags: { $in: ['x', 'ml'] } }, doc)).toBe(true)
    expect(matches({ tags: { $nin: ['ml'] } }, doc)).toBe(false)
  })

  it('lets $ne and $nin match a record that lacks the field', () => {
    expect(matches({ missing: { $ne: 1 } }, doc)).toBe(true)
    expect(matches({ missing: { $nin: [1] } }, doc)).toBe(true)
    expect(matches({ missing: { $gt: 1 } }, doc)).toBe(false)
  })

  it('compares ranges only between values of the same type', () => {
    expect(matches({ price: { $gte: 10, $lt: 11 } }, doc)).toBe(true)
    expect(matches({ code: { $gt: 9 } }, doc)).toBe(false)
    expect(matches({ code: { $gt: '1' } }, doc)).toBe(true)
  })

  it('orders strings by code point, so astral characters sort after U+FFFF', () => {
    expect(matches({ s: { $gt: '\uffff' } }, { s: '😀' })).toBe(true)
  })

  it('combines $and, $or and $exists', () => {
    expect(
      matches({ $or: [{ price: { $lt: 5 } }, { category: 'news' }], active: { $exists: true } }, doc),
    ).toBe(true)
    expect(matches({ $and: [{ price: 10 }, { rating: { $exists: true } }] }, doc)).toBe(false)
  })

  it('treats an empty $in as matching nothing and an empty $nin as matching everything', () => {
    expect(matches({ price: { $in: [] } }, doc)).toBe(false)
    expect(matches({ price: { $nin: [] } }, doc)).toBe(true)
  })
})
