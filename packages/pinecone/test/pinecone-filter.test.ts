import { type Filter, type Metadata, matchesFilter, validateFilter, validateRecords } from '@engram/core'
import { compilePineconeFilter } from '@engram/test-servers/pinecone'
import { describe, expect, it } from 'vitest'
import { pineconeFilter } from '../src/index.js'
import { encodeRecord } from '../src/pinecone-record.js'

// Records whose metadata hits every case the translation must get right: missing fields, empty
// and non-empty lists, booleans beside numbers, numeric-looking strings, no metadata at all.
const METADATA: ReadonlyArray<Metadata | undefined> = [
  { tags: ['ai', 'db'], n: 1, flag: true, code: '1' },
  { tags: [], n: 2, flag: 1, code: '10' },
  { tags: ['web'], n: 0, flag: false },
  { tags: 'ai', flag: 0, code: 'x' },
  { n: -3.5 },
  {},
  undefined,
]

const FILTERS: readonly Filter[] = [
  { tags: 'ai' },
  { tags: { $ne: 'ai' } },
  { tags: { $in: ['db', 'web'] } },
  { tags: { $nin: ['ai'] } },
  { tags: { $exists: true } },
  { tags: { $exists: false } },
  { n: { $ne: 1 } },
  { n: { $gte: 0, $lt: 2 } },
  { n: { $nin: [0, 2] } },
  { flag: true },
  { flag: 1 },
  { flag: { $ne: true } },
  { flag: { $in: [true, 0] } },
  { flag: { $nin: [false, 1] } },
  { code: { $in: ['1', 10] } },
  { code: { $in: [] } },
  { code: { $nin: [] } },
  { $or: [{ tags: { $in: [] } }, { n: 2 }] },
  { $and: [{ tags: { $nin: [] } }, { flag: { $exists: false } }] },
  { $or: [{ $and: [{ tags: 'ai' }, { n: { $gt: 0 } }] }, { code: { $ne: 'x' } }] },
]

describe('pineconeFilter', () => {
  it('selects exactly what matchesFilter accepts, evaluated with Pinecone semantics on the stored metadata', async () => {
    const records = validateRecords(
      METADATA.map((metadata, i) => ({ id: `r${i}`, vector: [1, 0], ...(metadata ? { metadata } : {}) })),
      2,
    )
    const layout = { dimension: 2, indexDimension: 2 }
    const stored = await Promise.all(records.map((record) => encodeRecord(record, layout, 'record')))
    for (const filter of FILTERS) {
      const node = validateFilter(filter, { stringRanges: false })
      const expected = records.filter((record) => matchesFilter(node, record.metadata)).map((r) => r.id)
      const translated = pineconeFilter(node)
      const predicate = typeof translated === 'boolean' ? () => translated : compilePineconeFilter(translated)
      const actual = stored
        .filter(({ record }) => predicate(record.metadata ?? {}))
        .map(({ record }) => record.id)
      expect(actual, JSON.stringify(filter)).toEqual(expected)
    }
  })

  it('writes "lacks the field" as a test on the key list, so $ne also matches missing fields and empty lists', () => {
    expect(pineconeFilter(validateFilter({ tags: { $ne: 'ai' } }))).toEqual({
      $or: [{ __engram_fields: { $nin: ['tags'] } }, { __engram_empty: 'tags' }, { tags: { $ne: 'ai' } }],
    })
    expect(pineconeFilter(validateFilter({ tags: { $exists: true } }))).toEqual({ __engram_fields: 'tags' })
  })

  it('moves booleans out of $in, which Pinecone takes for strings and numbers only', () => {
    expect(pineconeFilter(validateFilter({ flag: { $in: [true, 'x', 2] } }))).toEqual({
      $or: [{ flag: { $in: ['x', 2] } }, { flag: { $eq: true } }],
    })
  })

  it('folds filters that keep nothing to false and filters that keep everything to true', () => {
    expect(pineconeFilter(validateFilter({ a: { $in: [] } }))).toBe(false)
    expect(pineconeFilter(validateFilter({ a: { $nin: [] } }))).toBe(true)
    expect(pineconeFilter(validateFilter({ $or: [{ a: { $in: [] } }, { b: 1 }] }))).toEqual({ b: { $eq: 1 } })
    expect(pineconeFilter(validateFilter({ $and: [{ a: { $nin: [] } }, { b: 1 }] }))).toEqual({
      b: { $eq: 1 },
    })
  })

  it('refuses the store’s own fields and string range bounds', () => {
    expect(() => pineconeFilter(validateFilter({ __engram_text: 'x' }))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => pineconeFilter(validateFilter({ code: { $gt: 'a' } }))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED' }),
    )
  })
})
