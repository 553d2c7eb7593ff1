import type { Filter, Metadata, VectorRecord } from '@engram/core'

/**
 * Deterministic data for the vector suite. Everything here is plain data: the suite computes
 * every expected answer with core's own `similarity`, `matchesFilter` and `reciprocalRankFusion`.
 */

/** A record as the fixtures build it: the vector is always a `Float32Array`. */
export interface FixtureRecord extends VectorRecord {
  vector: Float32Array
}

/** A small, fast, seeded PRNG (mulberry32) returning numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** `count` vectors of `dimension` components drawn uniformly from [-1, 1). */
export function randomVectors(count: number, dimension: number, seed: number): Float32Array[] {
  const random = seededRandom(seed)
  return Array.from({ length: count }, () => Float32Array.from({ length: dimension }, () => random() * 2 - 1))
}

/** Records with random vectors and no metadata, ids `r000`, `r001`, … */
export function randomRecords(count: number, dimension: number, seed: number): FixtureRecord[] {
  return randomVectors(count, dimension, seed).map((vector, i) => ({
    id: `r${String(i).padStart(3, '0')}`,
    vector,
  }))
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

// A quote and non-ASCII first letters catch unescaped SQL and locale-dependent string order.
const CATEGORIES = ['news', 'sports', 'tech', "o'reilly", 'éclair', 'Zeta'] as const
const PRICES = [-12.5, -1, 0, 0.25, 0.5, 3, 9.99, 10, 42, 99.5, 250] as const
const TAGS = ['ai', 'ml', 'db', 'web', "c'est", 'naïve'] as const
const RATINGS = [1, 2, 3, 3.5, 4, 5] as const
// Numeric-looking strings: their string order ('10' < '2') differs from their numeric order.
const CODES = ['1', '2', '9', '10', '20', '100'] as const
// Numbers and booleans in one field: `{ flag: true }` must not match `1`.
const FLAGS = [1, 0, true, false] as const

/** Number of records in the filter data set. */
export const FILTER_DATA_SIZE = 200
/** Dimension of the filter data set's vectors. */
export const FILTER_DIMENSION = 8

/**
 * The filter data set: 200 records with varied metadata, some fields missing on some
 * records and a few records with no metadata at all.
 */
export function filterDataSet(): FixtureRecord[] {
  const random = seededRandom(20_240_601)
  const vectors = randomVectors(FILTER_DATA_SIZE, FILTER_DIMENSION, 7)
  return vectors.map((vector, i) => {
    const id = `f${String(i).padStart(3, '0')}`
    if (i % 25 === 7) return { id, vector }
    const metadata: Record<string, Metadata[string]> = {}
    if (i % 13 !== 5) metadata.category = pick(random, CATEGORIES)
    metadata.price = pick(random, PRICES)
    metadata.year = 2014 + Math.floor(random() * 12)
    metadata.active = random() < 0.5
    if (i % 11 !== 3) metadata.tags = TAGS.filter(() => random() < 0.3)
    if (random() < 0.6) metadata.rating = pick(random, RATINGS)
    metadata.code = pick(random, CODES)
    if (i % 9 !== 4) metadata.flag = pick(random, FLAGS)
    return { id, vector, metadata }
  })
}

/** A predicate over a record's metadata, used to prove a filter case is not vacuous. */
export type MetadataProbe = (metadata: Metadata | undefined) => boolean

/** One row of the filter table. */
export interface FilterCase {
  /** The behaviour the case checks. */
  name: string
  /** The filter under test. */
  filter: Filter
  /** How big the reference set must be: a proper non-empty subset, nothing, or everything. */
  expect: 'some' | 'none' | 'all'
  /** Some record matching this probe must be accepted (the interesting inclusion really occurs). */
  accepts?: MetadataProbe
  /** Some record matching this probe must be rejected (the trap really is in the data). */
  rejects?: MetadataProbe
}

const lacks =
  (field: string): MetadataProbe =>
  (m) =>
    m === undefined || !Object.hasOwn(m, field)
const has =
  (field: string, value: Metadata[string]): MetadataProbe =>
  (m) =>
    m !== undefined && Object.hasOwn(m, field) && m[field] === value
const hasEmptyList =
  (field: string): MetadataProbe =>
  (m) => {
    const value = m?.[field]
    return Array.isArray(value) && value.length === 0
  }

/** The filter table; the suite checks each case against core's `matchesFilter`. */
export const FILTER_CASES: readonly FilterCase[] = [
  { name: 'implicit $eq on a string', filter: { category: 'news' }, expect: 'some' },
  {
    name: '$eq on a string containing a quote',
    filter: { category: { $eq: "o'reilly" } },
    expect: 'some',
    accepts: has('category', "o'reilly"),
  },
  { name: '$eq on a non-ASCII string', filter: { category: 'éclair' }, expect: 'some' },
  { name: '$eq is case-sensitive', filter: { category: 'zeta' }, expect: 'none' },
  { name: 'implicit $eq on an integer', filter: { year: 2020 }, expect: 'some' },
  { name: '$eq on a fractional number', filter: { price: 9.99 }, expect: 'some' },
  { name: '$eq on a boolean', filter: { active: true }, expect: 'some' },
  {
    name: 'boolean true does not match the number 1',
    filter: { flag: true },
    expect: 'some',
    rejects: has('flag', 1),
  },
  {
    name: 'the number 1 does not match boolean true',
    filter: { flag: 1 },
    expect: 'some',
    rejects: has('flag', true),
  },
  {
    name: 'boolean false does not match the number 0',
    filter: { flag: { $eq: false } },
    expect: 'some',
    rejects: has('flag', 0),
  },
  { name: 'a number does not match a numeric-looking string', filter: { code: 10 }, expect: 'none' },
  {
    name: 'a numeric-looking string matches only that string',
    filter: { code: '10' },
    expect: 'some',
    rejects: has('code', '100'),
  },
  { name: '$eq on a list field means "contains"', filter: { tags: 'ai' }, expect: 'some' },
  {
    name: '$eq "contains" with a quoted list item',
    filter: { tags: { $eq: "c'est" } },
    expect: 'some',
  },
  {
    name: '$ne also matches records that lack the field',
    filter: { category: { $ne: 'news' } },
    expect: 'some',
    accepts: lacks('category'),
  },
  {
    name: '$ne on a list field means "does not contain" and matches empty lists',
    filter: { tags: { $ne: 'ai' } },
    expect: 'some',
    accepts: hasEmptyList('tags'),
  },
  {
    name: '$ne on a boolean matches the other booleans, numbers and missing fields',
    filter: { flag: { $ne: true } },
    expect: 'some',
    accepts: has('flag', 1),
  },
  {
    name: '$gt on numbers excludes the boundary',
    filter: { price: { $gt: 10 } },
    expect: 'some',
    rejects: has('price', 10),
  },
  {
    name: '$gte on numbers includes the boundary',
    filter: { price: { $gte: 10 } },
    expect: 'some',
    accepts: has('price', 10),
  },
  {
    name: '$lt with a negative bound',
    filter: { price: { $lt: -1 } },
    expect: 'some',
    rejects: has('price', -1),
  },
  {
    name: '$lte includes zero at the boundary',
    filter: { price: { $lte: 0 } },
    expect: 'some',
    accepts: has('price', 0),
  },
  {
    name: 'two range operators on one field are ANDed (fractional bounds)',
    filter: { price: { $gt: 0.1, $lt: 1 } },
    expect: 'some',
    accepts: has('price', 0.25),
    rejects: has('price', 0),
  },
  {
    name: 'a range never matches records that lack the field',
    filter: { rating: { $lt: 3 } },
    expect: 'some',
    rejects: lacks('rating'),
  },
  {
    name: 'a range on strings compares by code point, not numerically',
    filter: { code: { $gt: '2' } },
    expect: 'some',
    accepts: has('code', '9'),
    rejects: has('code', '100'),
  },
  {
    name: 'a range on strings orders non-ASCII after ASCII (code point order)',
    filter: { category: { $gt: 'tech' } },
    expect: 'some',
    accepts: has('category', 'éclair'),
  },
  {
    name: 'a range on strings orders uppercase before lowercase',
    filter: { category: { $lt: 'news' } },
    expect: 'some',
    accepts: has('category', 'Zeta'),
  },
  { name: 'a numeric range does not match string values', filter: { code: { $gte: 0 } }, expect: 'none' },
  {
    name: 'a numeric range does not match booleans',
    filter: { flag: { $gte: 1 } },
    expect: 'some',
    rejects: has('flag', true),
  },
  { name: '$in on strings', filter: { category: { $in: ['news', 'tech'] } }, expect: 'some' },
  {
    name: '$in on a list field means "contains any of"',
    filter: { tags: { $in: ['db', 'naïve'] } },
    expect: 'some',
  },
  {
    name: 'mixed-type $in matches each value by its own type',
    filter: { flag: { $in: [true, 0] } },
    expect: 'some',
    accepts: has('flag', 0),
    rejects: has('flag', 1),
  },
  {
    name: '$in with a number does not match a numeric-looking string',
    filter: { code: { $in: ['1', 10] } },
    expect: 'some',
    rejects: has('code', '10'),
  },
  { name: 'an empty $in matches nothing', filter: { category: { $in: [] } }, expect: 'none' },
  {
    name: '$nin also matches records that lack the field',
    filter: { rating: { $nin: [1, 2] } },
    expect: 'some',
    accepts: lacks('rating'),
  },
  {
    name: '$nin on a list field excludes lists containing any value',
    filter: { tags: { $nin: ['ai', 'web'] } },
    expect: 'some',
    accepts: hasEmptyList('tags'),
  },
  { name: 'an empty $nin matches everything', filter: { category: { $nin: [] } }, expect: 'all' },
  { name: '$exists true', filter: { rating: { $exists: true } }, expect: 'some' },
  {
    name: '$exists false also matches records with no metadata at all',
    filter: { rating: { $exists: false } },
    expect: 'some',
    accepts: (m) => m === undefined,
  },
  {
    name: '$exists true counts an empty list as present',
    filter: { tags: { $exists: true } },
    expect: 'some',
    accepts: hasEmptyList('tags'),
  },
  {
    name: 'several keys are ANDed',
    filter: { category: 'news', active: true, year: { $gte: 2018 } },
    expect: 'some',
  },
  {
    name: '$and of two ranges on the same field',
    filter: { $and: [{ price: { $gte: 0 } }, { price: { $lt: 50 } }] },
    expect: 'some',
  },
  { name: '$or of two fields', filter: { $or: [{ category: 'sports' }, { tags: 'ml' }] }, expect: 'some' },
  {
    name: '$or nested inside $and',
    filter: { $and: [{ active: true }, { $or: [{ year: { $lt: 2017 } }, { rating: { $gte: 4 } }] }] },
    expect: 'some',
  },
  {
    name: '$and nested inside $or, beside a plain field key',
    filter: {
      year: { $ne: 2020 },
      $or: [{ $and: [{ category: 'tech' }, { price: { $gt: 0 } }] }, { flag: false }],
    },
    expect: 'some',
  },
  { name: 'a filter that matches nothing', filter: { category: 'no-such-category' }, expect: 'none' },
  { name: 'an empty filter object matches everything', filter: {}, expect: 'all' },
]

/** One example filter per operator, for checking `UNSUPPORTED`. */
export const OPERATOR_EXAMPLES: Readonly<Record<string, Filter>> = {
  $eq: { category: { $eq: 'news' } },
  $ne: { category: { $ne: 'news' } },
  $gt: { price: { $gt: 1 } },
  $gte: { price: { $gte: 1 } },
  $lt: { price: { $lt: 1 } },
  $lte: { price: { $lte: 1 } },
  $in: { category: { $in: ['news'] } },
  $nin: { category: { $nin: ['news'] } },
  $exists: { rating: { $exists: true } },
  $and: { $and: [{ price: { $gt: 1 } }, { price: { $lt: 100 } }] },
  $or: { $or: [{ price: { $gt: 100 } }, { price: { $lt: 1 } }] },
}

/** Filters every store must reject with `INVALID_ARGUMENT` before touching data. */
export const INVALID_FILTERS: ReadonlyArray<{ name: string; filter: unknown }> = [
  { name: 'an unknown operator ($regex)', filter: { category: { $regex: '^n' } } },
  { name: 'an unknown top-level operator ($not)', filter: { $not: { category: 'news' } } },
  { name: '$and that is not an array', filter: { $and: { category: 'news' } } },
  { name: 'an empty $and', filter: { $and: [] } },
  { name: 'an empty $or', filter: { $or: [] } },
  { name: 'an empty operator object', filter: { price: {} } },
  { name: 'a null value', filter: { category: null } },
  { name: 'a nested object value', filter: { category: { name: 'news' } } },
  { name: 'an array value', filter: { tags: ['ai'] } },
  { name: '$in that is not an array', filter: { category: { $in: 'news' } } },
  { name: '$exists that is not a boolean', filter: { rating: { $exists: 1 } } },
  { name: 'a range on a boolean', filter: { active: { $gt: false } } },
  { name: 'a non-finite number', filter: { price: { $lt: Number.POSITIVE_INFINITY } } },
  { name: "a field name with a quote (a'b)", filter: { "a'b": 1 } },
  { name: 'a dotted field name (a.b)', filter: { 'a.b': 1 } },
  { name: 'an SQL injection in a field name', filter: { 'x); DROP TABLE t; --': 1 } },
  { name: 'a filter that is not an object', filter: "category = 'news'" },
]

/** Texts for the text-mode tests; `query` is `'apple banana'`. */
export const FRUIT_TEXTS: ReadonlyArray<{ id: string; text?: string }> = [
  { id: 't-both', text: 'apple banana' },
  { id: 't-apple', text: 'apple cherry date elderberry fig grape' },
  { id: 't-banana', text: 'banana split with cream and syrup' },
  { id: 't-cherry', text: 'cherry pie' },
  // "pineapple" contains "apple" only as a substring, so it is not a match.
  { id: 't-pineapple', text: 'pineapple juice' },
  { id: 't-none' },
]

/** Words for the hybrid fusion data set. */
const VOCABULARY = [
  'river',
  'mountain',
  'forest',
  'desert',
  'ocean',
  'valley',
  'glacier',
  'canyon',
  'island',
  'meadow',
  'volcano',
  'prairie',
] as const

/**
 * Records with random vectors, random texts over a small vocabulary (some without text) and a
 * `half` field, `'even'` or `'odd'` by position.
 */
export function hybridDataSet(count: number, dimension: number, seed: number): FixtureRecord[] {
  const random = seededRandom(seed)
  return randomRecords(count, dimension, seed + 1).map((record, i) => {
    const withMetadata = { ...record, metadata: { half: i % 2 === 0 ? 'even' : 'odd' } }
    if (i % 7 === 3) return withMetadata
    const words = Array.from({ length: 2 + Math.floor(random() * 6) }, () => pick(random, VOCABULARY))
    return { ...withMetadata, text: words.join(' ') }
  })
}
