import { type Filter, type Metadata, matchesFilter, type SqlValue, validateFilter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createPgVectorStore, createPostgresAdapter, pgFilter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

// The pool connects on first use, after requireDatabase has said whether the server is there.
const adapter = createPostgresAdapter({ connectionString: PG_URL })
beforeAll(requireDatabase)
afterAll(() => adapter.close())

const ROWS: ReadonlyArray<{ id: string; doc?: Metadata }> = [
  { id: 'en-faq', doc: { lang: 'en', tags: ['faq', 'help'], n: 2, flag: true, name: 'apple' } },
  { id: 'de-one', doc: { lang: 'de', tags: ['faq'], n: 1, flag: false, name: 'Birne' } },
  { id: 'fr-ten', doc: { lang: 'fr', n: 10, flag: 1 as unknown as boolean, name: '\u{1F600}' } },
  { id: 'wide-z', doc: { lang: 'en', n: 2.5, name: '\uFF5A' } },
  { id: 'string-n', doc: { n: '3', name: 'cherry' } },
  { id: 'none' },
]

const FILTERS: readonly Filter[] = [
  {},
  { lang: 'en' },
  { tags: 'faq' },
  { tags: { $in: ['help', 'none'] } },
  { n: { $gt: 2 } },
  { n: { $gte: 2, $lt: 10 } },
  { name: { $lt: 'b' } },
  // U+1F600 sorts after U+FF5A by code point, though its first UTF-16 unit is smaller.
  { name: { $gt: '\uFF5A' } },
  { flag: true },
  { flag: 1 },
  { lang: { $ne: 'en' } },
  { lang: { $nin: ['en', 'de'] } },
  { tags: { $exists: false } },
  { $or: [{ lang: 'de' }, { n: { $lte: 1 } }, { name: 'cherry' }] },
  { $and: [{ lang: 'en' }, { $or: [{ flag: true }, { n: { $gt: 2 } }] }] },
]

/** The ids `pgFilter` selects over `rows` in a JSONB column named `doc`, and how many values it bound. */
async function select(
  filter: Filter,
  rows: ReadonlyArray<{ id: string; doc?: Metadata }> = ROWS,
): Promise<{ ids: string[]; bound: number }> {
  const params: Record<string, SqlValue> = {
    ids: rows.map((row) => row.id),
    docs: rows.map((row) => (row.doc === undefined ? null : JSON.stringify(row.doc))),
  }
  const bind = (value: SqlValue): string => {
    const name = `p${Object.keys(params).length}`
    params[name] = value
    return `:${name}`
  }
  const condition = pgFilter(validateFilter(filter), { column: 'r.doc', bind })
  const found = await adapter.all<{ id: string }>(
    `SELECT r.id FROM (SELECT u.id, u.doc::jsonb AS doc FROM unnest(:ids::text[], :docs::text[]) AS u(id, doc)) r
     WHERE ${condition} ORDER BY r.id COLLATE "C"`,
    params,
  )
  return { ids: found.map((row) => row.id), bound: Object.keys(params).length - 2 }
}

async function selected(filter: Filter): Promise<string[]> {
  return (await select(filter)).ids
}

/** Far past PostgreSQL's 65,535 parameters when each value was bound on its own (twice per string). */
const LONG = 40_000

/** Rows with every kind of value a long list meets: strings, lists, integers, reals, booleans. */
const LONG_ROWS: ReadonlyArray<{ id: string; doc?: Metadata }> = Array.from(
  { length: 240 },
  (_, i): { id: string; doc?: Metadata } => {
    const kind = i % 6
    const id = `r${String(i).padStart(3, '0')}`
    if (kind === 0) return { id, doc: { f: `k${i}`, g: i } }
    if (kind === 1) return { id, doc: { f: [`k${i}`, 'shared'], g: i + 0.5 } }
    if (kind === 2) return { id, doc: { f: i, g: `k${i}` } }
    if (kind === 3) return { id, doc: { f: i % 4 === 1, g: [`k${i}`] } }
    if (kind === 4) return { id, doc: { f: String(i), h: true } }
    return i % 12 === 5 ? { id } : { id, doc: {} }
  },
)

/** Lists of each kind, long and short, each with some values that hit the rows above. */
function lists(length: number): Record<string, readonly (string | number | boolean)[]> {
  const hits = (i: number): boolean => i % 5 === 0
  return {
    strings: Array.from({ length }, (_, i) => (hits(i) ? `k${i}` : `miss${i}`)),
    numbers: Array.from({ length }, (_, i) => (hits(i) ? i : -i - 1)),
    reals: Array.from({ length }, (_, i) => (hits(i) ? i + 0.5 : i + 0.25)),
    booleans: Array.from({ length }, (_, i) => i % 7 === 0),
    mixed: Array.from({ length }, (_, i) => (i % 3 === 0 ? `k${i}` : i % 3 === 1 ? i : i % 2 === 0)),
    numericStrings: Array.from({ length }, (_, i) => String(i)),
  }
}

describe('pgFilter', () => {
  for (const filter of FILTERS) {
    it(`selects exactly what matchesFilter accepts for ${JSON.stringify(filter)}, on any JSONB column`, async () => {
      const node = validateFilter(filter)
      const expected = ROWS.filter((row) => matchesFilter(node, row.doc))
        .map((row) => row.id)
        .sort()
      expect(await selected(filter)).toEqual(expected)
    })
  }

  it('binds field names and values, so neither reaches the SQL text', () => {
    const values: SqlValue[] = []
    const bind = (value: SqlValue): string => {
      values.push(value)
      return `$${values.length}`
    }
    const sql = pgFilter(validateFilter({ name: { $gt: "'; DROP TABLE t --" } }), {
      column: 'metadata',
      bind,
    })
    expect(sql).not.toMatch(/DROP|name/)
    // One value per placeholder, in reading order, so positional placeholders work too.
    expect(values).toEqual(['name', 'name', "'; DROP TABLE t --"])
    expect(sql.match(/\$\d+/g)).toEqual(['$1', '$2', '$3'])
  })

  for (const length of [LONG, 200]) {
    it(`selects exactly what matchesFilter accepts for $in and $nin of ${length} strings, numbers, booleans and mixed values, on scalar and list fields, as one array parameter`, async () => {
      let split = 0
      for (const [kind, values] of Object.entries(lists(length))) {
        for (const field of ['f', 'g', 'h']) {
          for (const op of ['$in', '$nin'] as const) {
            const filter: Filter = { [field]: { [op]: values } }
            const node = validateFilter(filter)
            const expected = LONG_ROWS.filter((row) => matchesFilter(node, row.doc)).map((row) => row.id)
            const { ids, bound } = await select(filter, LONG_ROWS)
            expect(ids, `${kind} ${field} ${op}`).toEqual(expected)
            expect(bound, `${kind} ${field} ${op}`).toBeLessThanOrEqual(5)
            if (expected.length > 0 && expected.length < LONG_ROWS.length) split++
          }
        }
      }
      // Most combinations split the rows, so the comparison is not vacuous.
      expect(split).toBeGreaterThan(20)
    })
  }

  it('answers a short $in from the GIN index on the metadata column', async () => {
    const table = freshSchema('pgfilter_gin')
    await admin(`CREATE TABLE ${table} (id int PRIMARY KEY, metadata jsonb);
      INSERT INTO ${table} SELECT g, jsonb_build_object('s', 'k' || g) FROM generate_series(1, 2000) g;
      CREATE INDEX ON ${table} USING gin (metadata); ANALYZE ${table}`)
    onTestFinished(() => admin(`DROP TABLE IF EXISTS ${table}`))
    const params: Record<string, SqlValue> = {}
    const condition = pgFilter(validateFilter({ s: { $in: ['k5', 'k7', 'k11'] } }), {
      column: 'metadata',
      bind(value) {
        const name = `p${Object.keys(params).length}`
        params[name] = value
        return `:${name}`
      },
    })
    const plan = await adapter.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off')
      return tx.all<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM ${table} WHERE ${condition}`, params)
    })
    expect(plan.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Bitmap Index Scan on \S*metadata/)
    const ids = await adapter.all<{ id: number }>(
      `SELECT id FROM ${table} WHERE ${condition} ORDER BY id`,
      params,
    )
    expect(ids.map((row) => row.id)).toEqual([5, 7, 11])
  })

  it('counts, queries, scans and deletes through PgVectorStore with a 40,000-value $in', async () => {
    const schema = freshSchema('pgfilter_store')
    const store = createPgVectorStore({ adapter, schema })
    onTestFinished(async () => {
      await store.close()
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    })
    await store.createCollection('docs', { dimension: 2 })
    const rows = LONG_ROWS.filter((row) => row.doc !== undefined)
    await store.upsert(
      'docs',
      rows.map((row, i) => ({ id: row.id, vector: [1, i + 1], ...(row.doc ? { metadata: row.doc } : {}) })),
    )
    const long = lists(LONG)
    const filter: Filter = { $or: [{ f: { $in: long.mixed } }, { g: { $in: long.reals } }] }
    const node = validateFilter(filter)
    const expected = rows.filter((row) => matchesFilter(node, row.doc)).map((row) => row.id)
    expect(expected.length).toBeGreaterThan(10)
    expect(await store.count('docs', filter)).toBe(expected.length)
    const matches = await store.query('docs', { vector: [1, 1], topK: rows.length, filter })
    expect(matches.map((m) => m.id).sort()).toEqual(expected)
    const scanned: string[] = []
    for await (const batch of store.scan('docs', { filter, batchSize: 50 }))
      scanned.push(...batch.map((r) => r.id))
    expect(scanned.sort()).toEqual(expected)
    const kept = rows.filter((row) => matchesFilter(validateFilter({ f: { $in: long.mixed } }), row.doc))
    expect(await store.delete('docs', { filter: { f: { $nin: long.mixed } } })).toBe(
      rows.length - kept.length,
    )
    expect(await store.count('docs')).toBe(kept.length)
  })
})
