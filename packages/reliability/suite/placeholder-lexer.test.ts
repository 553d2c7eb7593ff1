import { compileSql, type SqlDialect, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures, runSeed, scaled } from '../src/figures.js'
import { PG_URL, requirePostgres } from '../src/pg-env.js'
import { referenceCompile } from '../src/reference-tokenizer.js'

// The placeholder lexer (core's compileSql) against an independent reference tokenizer on random
// SQL made of literals, quoted identifiers, comments, dollar quotes, ??, casts and placeholders
// glued together in any order; then against the real engines: random SELECTs whose every column
// is known in advance, run on SQLite and PostgreSQL.
const FILE = 'placeholder-lexer'
const RUNS = scaled(4000)
const seed = runSeed()

/** Pieces random statements are glued from, with no separators, so every adjacency is tried. */
const PIECES = [
  ' ',
  '\n',
  ',',
  '(',
  ')',
  '=',
  '||',
  '->>',
  ':',
  '::',
  '::text',
  ';',
  '$',
  '$1',
  '$$',
  '$a$',
  '$ab1$',
  '[',
  ']',
  '`',
  '?',
  '??',
  '??|',
  '?&',
  '?1',
  ':name',
  ':a1',
  ':é',
  ':x$y',
  ':_',
  'a:b',
  'SELECT',
  'x',
  'E',
  'e',
  'U&',
  'é',
  '1',
  "'",
  "''",
  "'?'",
  "':n'",
  "E'\\''",
  "e'\\\\'",
  "'it''s ?'",
  '"',
  '""',
  '"?:"',
  '`?`',
  '[?]',
  '--',
  '-- ? :n\n',
  '/*',
  '*/',
  '/* ? */',
  '/* /* :n */ ? */',
  '$$ ? :n $$',
  '$t$ $$ ? $t$',
  '$t$',
  '\\',
  '*',
  '/',
  '-',
  'ñ:z',
] as const

const statement = fc.array(fc.constantFrom(...PIECES), { maxLength: 24 }).map((pieces) => pieces.join(''))

type Outcome = { error: true } | { error: false; value: unknown }

function core(sql: string, dialect: SqlDialect): Outcome {
  try {
    const { text, style, count, slots, names } = compileSql(sql, dialect)
    return { error: false, value: { text, style, count, slots: [...slots], names: [...names] } }
  } catch (error) {
    if (!(error instanceof StorageError) || error.code !== 'INVALID_ARGUMENT') throw error
    return { error: true }
  }
}

function reference(sql: string, dialect: SqlDialect): Outcome {
  const result = referenceCompile(sql, dialect)
  if ('error' in result) return { error: true }
  const { text, style, count, slots, names } = result.compiled
  return { error: false, value: { text, style, count, slots: [...slots], names: [...names] } }
}

describe(`compileSql against the reference tokenizer (${RUNS} statements per dialect, seed ${seed})`, () => {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`rewrites exactly the placeholders the reference finds, and refuses the same statements, on ${dialect}`, () => {
      let refused = 0
      let rewritten = 0
      fc.assert(
        fc.property(statement, (sql) => {
          const expected = reference(sql, dialect)
          expect(core(sql, dialect), JSON.stringify(sql)).toEqual(expected)
          if (expected.error) refused++
          else if ((expected.value as { style: string }).style !== 'none') rewritten++
        }),
        { numRuns: RUNS, seed },
      )
      // The generator reaches every outcome often.
      expect(refused).toBeGreaterThan(RUNS / 20)
      expect(rewritten).toBeGreaterThan(RUNS / 20)
      printFigures(FILE, `compileSql vs reference (${dialect})`, {
        statements: RUNS,
        refused,
        rewritten,
        differences: 0,
      })
    })
  }

  it('compiles a statement of 100,000 placeholders in linear time', () => {
    const sql = `SELECT ${Array.from({ length: 100_000 }, (_, i) => `:p${i}`).join(', ')}`
    const start = performance.now()
    const compiled = compileSql(sql, 'postgres')
    const elapsed = performance.now() - start
    expect(compiled.names).toHaveLength(100_000)
    // Quadratic compilation took about 30 s for 40,000 names; linear takes milliseconds.
    expect(elapsed).toBeLessThan(2000)
    printFigures(FILE, 'compile 100,000 named placeholders', { ms: elapsed })
  })
})

/** One column of a random SELECT: its SQL and the value the engine must return for it. */
interface Column {
  sql: (bind: (value: string) => string) => string
  expected: unknown
}

/** Text that tries to look like syntax: quotes, placeholders, comment and dollar-quote markers. */
const tricky = fc
  .array(
    fc.constantFrom(
      'a',
      ' ',
      "'",
      '"',
      '?',
      '??',
      ':n',
      '::',
      '$$',
      '$t$',
      '--',
      '/*',
      '*/',
      '\\',
      '\n',
      'é',
      '\u{1F600}',
      ';',
    ),
    {
      maxLength: 10,
    },
  )
  .map((parts) => parts.join(''))

function columns(dialect: SqlDialect): fc.Arbitrary<Column[]> {
  const pg = dialect === 'postgres'
  const cast = (sql: string): string => (pg ? `${sql}::text` : `CAST(${sql} AS TEXT)`)
  const literal = tricky.map(
    (text): Column => ({ sql: () => `'${text.replaceAll("'", "''")}'`, expected: text }),
  )
  const bound = tricky.map((text): Column => ({ sql: (bind) => cast(bind(text)), expected: text }))
  const commented = fc.tuple(tricky, tricky).map(
    ([note, text]): Column => ({
      sql: (bind) =>
        `/* ${note.replaceAll('*', '')} */ ${cast(bind(text))} -- ${note.replaceAll('\n', '')}\n`,
      expected: text,
    }),
  )
  const options: fc.Arbitrary<Column>[] = [literal, bound, commented]
  if (pg) {
    options.push(
      tricky.map(
        (text): Column => ({
          sql: () => `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`,
          expected: text,
        }),
      ),
      tricky
        .filter((text) => !text.includes('$q$'))
        .map((text): Column => ({ sql: () => `$q$${text}$q$`, expected: text })),
      fc.constantFrom('k', 'z').map(
        (key): Column => ({
          sql: (bind) => `(CAST('{"k": 1}' AS jsonb) ?? ${cast(bind(key))})`,
          expected: key === 'k',
        }),
      ),
    )
  } else {
    options.push(
      tricky.map((text): Column => ({ sql: () => `[${text.replaceAll(']', '')}]`, expected: undefined })),
    )
  }
  return fc.array(fc.oneof(...options), { minLength: 1, maxLength: 8 })
}

describe(`random SELECTs through the real engines (${scaled(150)} per dialect and style)`, () => {
  let sqlite: StorageAdapter
  let postgres: StorageAdapter
  beforeAll(async () => {
    await requirePostgres()
    sqlite = createSqliteNativeAdapter({ filename: ':memory:' })
    postgres = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
  })
  afterAll(async () => {
    await sqlite?.close()
    await postgres?.close()
  })

  for (const dialect of ['sqlite', 'postgres'] as const) {
    for (const style of ['positional', 'named'] as const) {
      it(`returns every column as written, with ${style} placeholders, on ${dialect}`, async () => {
        const db = dialect === 'sqlite' ? sqlite : postgres
        let statements = 0
        await fc.assert(
          fc.asyncProperty(columns(dialect), async (list) => {
            const positional: SqlValue[] = []
            const named: Record<string, SqlValue> = {}
            const bind = (value: string): string => {
              if (style === 'positional') {
                positional.push(value)
                return '?'
              }
              // A repeated value reuses its name, so one :name appears several times.
              const existing = Object.entries(named).find(([, v]) => v === value)?.[0]
              if (existing) return `:${existing}`
              const name = `v${Object.keys(named).length}`
              named[name] = value
              return `:${name}`
            }
            // A bracketed name is a quoted identifier on SQLite: used as a column alias, not a value.
            const parts = list.map((column, i) =>
              column.expected === undefined ? `'x' AS ${column.sql(bind)}` : `${column.sql(bind)} AS c${i}`,
            )
            const sql = `SELECT ${parts.join(', ')}`
            const params = style === 'positional' ? positional : named
            const row = await db.get<Record<string, unknown>>(sql, params)
            list.forEach((column, i) => {
              if (column.expected === undefined) return
              const value = row?.[`c${i}`]
              expect(
                dialect === 'sqlite' && typeof column.expected === 'boolean' ? Boolean(value) : value,
                sql,
              ).toEqual(column.expected)
            })
            statements++
          }),
          { numRuns: scaled(150), seed },
        )
        printFigures(FILE, `real ${dialect}, ${style}`, { statements, wrongColumns: 0 })
      })
    }
  }
})
