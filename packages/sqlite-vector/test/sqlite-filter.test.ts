import {
  type Filter,
  type Metadata,
  matchesFilter,
  type SqlValue,
  type StorageAdapter,
  validateFilter,
} from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqlJsAdapter } from '@engram/sqljs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createSqliteVectorStore, sqliteFilter } from '../src/index.js'
import { seeded, vectors } from './helpers.js'

// Values chosen to hit every typing trap: 1 vs true, '10' vs 10, code point order, quotes.
const SCALARS = [
  0,
  1,
  2,
  10,
  -3.5,
  0.25,
  true,
  false,
  '1',
  '10',
  '2',
  'a',
  'B',
  'é',
  "it's",
  '',
  'zz',
] as const
const LISTS = [[], ['a'], ['a', 'B'], ['10', "it's"], ['é']] as const
const FIELDS = ['f', 'g', 'h'] as const

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

function randomMetadata(random: () => number): Metadata | undefined {
  if (random() < 0.1) return undefined
  const metadata: Record<string, Metadata[string]> = {}
  for (const field of FIELDS) {
    const roll = random()
    if (roll < 0.25) continue
    metadata[field] = roll < 0.45 ? [...pick(random, LISTS)] : pick(random, SCALARS)
  }
  return metadata
}

function randomFilter(random: () => number, depth: number): Filter {
  const roll = random()
  if (depth > 0 && roll < 0.2) {
    const children = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
      randomFilter(random, depth - 1),
    )
    return { [random() < 0.5 ? '$and' : '$or']: children }
  }
  const field = pick(random, FIELDS)
  const value = pick(random, SCALARS)
  const op = pick(random, [
    '$eq',
    '$ne',
    '$gt',
    '$gte',
    '$lt',
    '$lte',
    '$in',
    '$nin',
    '$exists',
    'implicit',
  ] as const)
  if (op === 'implicit') return { [field]: value }
  if (op === '$exists') return { [field]: { $exists: random() < 0.5 } }
  if (op === '$in' || op === '$nin') {
    return {
      [field]: { [op]: Array.from({ length: Math.floor(random() * 4) }, () => pick(random, SCALARS)) },
    }
  }
  if (op.startsWith('$g') || op.startsWith('$l')) {
    return { [field]: { [op]: typeof value === 'boolean' ? 1 : value } }
  }
  return { [field]: { [op]: value } }
}

/** Translates with `?` placeholders, collecting the bound values in order. */
function translate(filter: Filter, column = 'metadata'): { sql: string; params: SqlValue[] } {
  const params: SqlValue[] = []
  const sql = sqliteFilter(validateFilter(filter), {
    column,
    bind(value) {
      params.push(value)
      return '?'
    },
  })
  return { sql, params }
}

describe('sqliteFilter', () => {
  it("selects exactly the rows core's matchesFilter accepts, over 400 random filters", async () => {
    const random = seeded(42)
    const db = createSqliteNativeAdapter({ filename: ':memory:' })
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, metadata TEXT)')
    const rows = Array.from({ length: 300 }, () => randomMetadata(random))
    for (const [i, metadata] of rows.entries()) {
      await db.run('INSERT INTO t (id, metadata) VALUES (?, ?)', [
        i,
        metadata === undefined ? null : JSON.stringify(metadata),
      ])
    }
    let nonTrivial = 0
    for (let n = 0; n < 400; n++) {
      const filter = randomFilter(random, 3)
      const node = validateFilter(filter)
      const { sql, params } = translate(filter)
      const got = (await db.all<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, params)).map(
        (r) => r.id,
      )
      const expected = rows.flatMap((metadata, i) => (matchesFilter(node, metadata) ? [i] : []))
      expect(got, JSON.stringify(filter)).toEqual(expected)
      if (expected.length > 0 && expected.length < rows.length) nonTrivial++
    }
    // Most generated filters split the data, so the comparison is not vacuous.
    expect(nonTrivial).toBeGreaterThan(200)
    await db.close()
  })

  it('binds field names and values as parameters, never as SQL text', () => {
    const { sql, params } = translate({ secret_field: "x'); DROP TABLE t; --", other: { $in: ['y', 2] } })
    expect(sql).not.toContain('secret_field')
    expect(sql).not.toContain('DROP')
    expect(params).toContain('$.secret_field')
    expect(params).toContain("x'); DROP TABLE t; --")
  })

  it('reads an empty filter as TRUE, an empty $in as FALSE and an empty $nin as TRUE', async () => {
    const db = createSqliteNativeAdapter({ filename: ':memory:' })
    await db.exec(
      `CREATE TABLE t (id INTEGER PRIMARY KEY, metadata TEXT); INSERT INTO t VALUES (1, '{"a":1}'), (2, NULL)`,
    )
    const ids = async (filter: Filter) => {
      const { sql, params } = translate(filter)
      return (await db.all<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, params)).map(
        (r) => r.id,
      )
    }
    expect(await ids({})).toEqual([1, 2])
    expect(await ids({ a: { $in: [] } })).toEqual([])
    expect(await ids({ a: { $nin: [] } })).toEqual([1, 2])
    await db.close()
  })

  it('answers an $in of 20,000 strings and 5,000 numbers, and 1,000 ORed conditions, exactly', async () => {
    const db = createSqliteNativeAdapter({ filename: ':memory:' })
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, metadata TEXT)')
    const rows = Array.from(
      { length: 400 },
      (_, i): Metadata => (i % 2 ? { s: `k${i}` } : { s: [`k${i}`, 'x'], n: i }),
    )
    for (const [i, metadata] of rows.entries()) {
      await db.run('INSERT INTO t (id, metadata) VALUES (?, ?)', [i, JSON.stringify(metadata)])
    }
    const filters: Filter[] = [
      { s: { $in: Array.from({ length: 20_000 }, (_, i) => `k${i * 7}`) } },
      { n: { $nin: Array.from({ length: 5_000 }, (_, i) => i * 3) } },
      { $or: Array.from({ length: 1_000 }, (_, i) => ({ s: `k${i * 5}` })) },
    ]
    for (const filter of filters) {
      const node = validateFilter(filter)
      const { sql, params } = translate(filter)
      const got = (await db.all<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, params)).map(
        (r) => r.id,
      )
      const expected = rows.flatMap((metadata, i) => (matchesFilter(node, metadata) ? [i] : []))
      expect(expected.length).toBeGreaterThan(0)
      expect(got).toEqual(expected)
    }
    await db.close()
  })

  it('puts every value where bind placed it, in reading order, with any placeholder style', async () => {
    const db = createSqliteNativeAdapter({ filename: ':memory:' })
    await db.exec(
      `CREATE TABLE t (id INTEGER PRIMARY KEY, metadata TEXT);
       INSERT INTO t VALUES (1, '{"n":5,"s":"b"}'), (2, '{"n":7,"s":"a"}'), (3, '{"n":5,"s":"c"}')`,
    )
    const named: Record<string, SqlValue> = {}
    const sql = sqliteFilter(validateFilter({ n: { $gte: 5, $lt: 7 }, s: { $in: ['b', 'c'] } }), {
      column: 't.metadata',
      bind(value) {
        const name = `p${Object.keys(named).length}`
        named[name] = value
        return `:${name}`
      },
    })
    const rows = await db.all<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, named)
    expect(rows.map((r) => r.id)).toEqual([1, 3])
    await db.close()
  })

  it('refuses a column that is not a plain (optionally qualified) name', () => {
    for (const column of ['', 'metadata; DROP TABLE t', 'json(metadata)', 'a.b.c']) {
      expect(() => translate({ a: 1 }, column)).toThrow(/plain column name/)
    }
  })
})

/** Far past SQLite's 32,766 parameters, and past the ~1,000 where long expressions used to fail. */
const LONG = 40_000

/** Rows whose fields are every kind a long list meets: strings, lists, integers, reals, booleans. */
function longListRows(): Metadata[] {
  return Array.from({ length: 240 }, (_, i): Metadata => {
    const kind = i % 6
    if (kind === 0) return { f: `k${i}`, g: i }
    if (kind === 1) return { f: [`k${i}`, 'shared'], g: i + 0.5 }
    if (kind === 2) return { f: i, g: `k${i}` }
    if (kind === 3) return { f: i % 4 === 1, g: [`k${i}`] }
    if (kind === 4) return { f: String(i), h: true }
    return {}
  })
}

/** Lists of `LONG` values of each kind, each with some values that hit the rows above. */
function longLists(): Record<string, readonly (string | number | boolean)[]> {
  const hits = (i: number): boolean => i % 5 === 0
  return {
    strings: Array.from({ length: LONG }, (_, i) => (hits(i) ? `k${i}` : `miss${i}`)),
    numbers: Array.from({ length: LONG }, (_, i) => (hits(i) ? i : -i - 1)),
    reals: Array.from({ length: LONG }, (_, i) => (hits(i) ? i + 0.5 : i + 0.25)),
    booleans: Array.from({ length: LONG }, (_, i) => i % 7 === 0),
    mixed: Array.from({ length: LONG }, (_, i) => (i % 3 === 0 ? `k${i}` : i % 3 === 1 ? i : i % 2 === 0)),
    numericStrings: Array.from({ length: LONG }, (_, i) => String(i)),
  }
}

const drivers: ReadonlyArray<[string, () => Promise<StorageAdapter>]> = [
  ['sqlite-native', async () => createSqliteNativeAdapter({ filename: ':memory:' })],
  ['sqljs', () => createSqlJsAdapter()],
]

describe.each(drivers)('long $in and $nin lists on %s', (_name, open) => {
  it('selects exactly what matchesFilter accepts for 40,000 strings, numbers, booleans and mixed values, on scalar and list fields, binding each list as one parameter', async () => {
    const db = await open()
    onTestFinished(() => db.close())
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, metadata TEXT)')
    const rows = longListRows()
    for (const [i, metadata] of rows.entries()) {
      await db.run('INSERT INTO t (id, metadata) VALUES (?, ?)', [i, JSON.stringify(metadata)])
    }
    let checked = 0
    for (const [kind, values] of Object.entries(longLists())) {
      for (const field of ['f', 'g', 'h']) {
        for (const op of ['$in', '$nin'] as const) {
          const filter: Filter = { [field]: { [op]: values } }
          const node = validateFilter(filter)
          const { sql, params } = translate(filter)
          // One JSON list per kind of value, plus the JSON paths: a handful, whatever the list's length.
          expect(params.length, `${kind} ${field} ${op}`).toBeLessThanOrEqual(8)
          const got = (await db.all<{ id: number }>(`SELECT id FROM t WHERE ${sql} ORDER BY id`, params)).map(
            (r) => r.id,
          )
          const expected = rows.flatMap((metadata, i) => (matchesFilter(node, metadata) ? [i] : []))
          expect(got, `${kind} ${field} ${op}`).toEqual(expected)
          if (expected.length > 0 && expected.length < rows.length) checked++
        }
      }
    }
    // Most combinations split the rows, so the comparison is not vacuous.
    expect(checked).toBeGreaterThan(20)
  })

  it('counts, queries, scans and deletes through the vector store with a 40,000-value $in', async () => {
    const adapter = await open()
    onTestFinished(() => adapter.close())
    const store = createSqliteVectorStore({ adapter })
    onTestFinished(() => store.close())
    await store.createCollection('docs', { dimension: 4 })
    const rows = longListRows()
    const points = vectors(rows.length, 4, 7)
    await store.upsert(
      'docs',
      rows.map((metadata, i) => ({ id: `r${i}`, vector: points[i] as Float32Array, metadata })),
    )
    const lists = longLists()
    const filter: Filter = { $or: [{ f: { $in: lists.mixed } }, { g: { $in: lists.reals } }] }
    const node = validateFilter(filter)
    const expected = rows.flatMap((metadata, i) => (matchesFilter(node, metadata) ? [`r${i}`] : [])).sort()
    expect(expected.length).toBeGreaterThan(10)
    expect(await store.count('docs', filter)).toBe(expected.length)
    const matches = await store.query('docs', {
      vector: points[0] as Float32Array,
      topK: rows.length,
      filter,
    })
    expect(matches.map((m) => m.id).sort()).toEqual(expected)
    const scanned: string[] = []
    for await (const batch of store.scan('docs', { filter, batchSize: 50 }))
      scanned.push(...batch.map((r) => r.id))
    expect(scanned.sort()).toEqual(expected)
    expect(await store.delete('docs', { filter: { f: { $nin: lists.mixed } } })).toBe(
      rows.length - rows.filter((m) => matchesFilter(validateFilter({ f: { $in: lists.mixed } }), m)).length,
    )
  })
})
