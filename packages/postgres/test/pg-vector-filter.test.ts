import { type Filter, type Metadata, matchesFilter, type SqlValue, validateFilter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresAdapter, pgFilter } from '../src/index.js'
import { PG_URL, requireDatabase } from './pg-test-env.js'

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

/** The ids `pgFilter` selects, over the rows above in a JSONB column named `doc`. */
async function selected(filter: Filter): Promise<string[]> {
  const params: Record<string, SqlValue> = {
    ids: ROWS.map((row) => row.id),
    docs: ROWS.map((row) => (row.doc === undefined ? null : JSON.stringify(row.doc))),
  }
  const bind = (value: SqlValue): string => {
    const name = `p${Object.keys(params).length}`
    params[name] = value
    return `:${name}`
  }
  const condition = pgFilter(validateFilter(filter), { column: 'r.doc', bind })
  const rows = await adapter.all<{ id: string }>(
    `SELECT r.id FROM (SELECT u.id, u.doc::jsonb AS doc FROM unnest(:ids::text[], :docs::text[]) AS u(id, doc)) r
     WHERE ${condition} ORDER BY r.id COLLATE "C"`,
    params,
  )
  return rows.map((row) => row.id)
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
    expect(values).toEqual(['name', "'; DROP TABLE t --"])
  })
})
