import { describe, expect, it } from 'vitest'
import { bindParams, compileSql, StorageError } from '../src/index.js'

const pg = (sql: string) => compileSql(sql, 'postgres').text
const lite = (sql: string) => compileSql(sql, 'sqlite').text

describe('compileSql', () => {
  it('numbers ? placeholders $1…$n on Postgres and keeps them on SQLite', () => {
    expect(pg('SELECT * FROM t WHERE a = ? AND b = ?')).toBe('SELECT * FROM t WHERE a = $1 AND b = $2')
    expect(lite('SELECT * FROM t WHERE a = ? AND b = ?')).toBe('SELECT * FROM t WHERE a = ? AND b = ?')
  })

  it('leaves ? and :name alone inside string literals, with doubled quotes', () => {
    expect(pg(`SELECT 'a?b', 'it''s :x ?', ?`)).toBe(`SELECT 'a?b', 'it''s :x ?', $1`)
  })

  it('honours backslash escapes only in Postgres E strings', () => {
    expect(pg(`SELECT E'\\' ?', ?`)).toBe(`SELECT E'\\' ?', $1`)
    expect(compileSql(`SELECT '\\', ?`, 'postgres').count).toBe(1)
  })

  it('leaves quoted identifiers alone, and SQLite backtick and bracket identifiers', () => {
    expect(pg(`SELECT "a?" FROM "t:x" WHERE c = ?`)).toBe(`SELECT "a?" FROM "t:x" WHERE c = $1`)
    expect(compileSql('SELECT `a?`, [b?] FROM t WHERE c = ?', 'sqlite').count).toBe(1)
  })

  it('leaves line and block comments alone, with nested block comments on Postgres', () => {
    expect(pg('SELECT ? -- what? :x\n, 1 /* a ? /* nested ? */ still ? */ , ?')).toBe(
      'SELECT $1 -- what? :x\n, 1 /* a ? /* nested ? */ still ? */ , $2',
    )
  })

  it('leaves dollar-quoted bodies alone', () => {
    const body = `CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1 WHERE 'x' = ? $fn$ LANGUAGE sql`
    expect(compileSql(body, 'postgres').style).toBe('none')
    expect(pg(`SELECT $$ ? :a $$, ?`)).toBe(`SELECT $$ ? :a $$, $1`)
  })

  it('rewrites ?? to the JSONB ? operator on Postgres, including ??| and ??&', () => {
    expect(pg(`SELECT data ?? 'k', data ??| ?, data ??& ?`)).toBe(`SELECT data ? 'k', data ?| $1, data ?& $2`)
  })

  it('rejects ?? on SQLite, which has no such operator', () => {
    expect(() => compileSql('SELECT a ?? b', 'sqlite')).toThrow(StorageError)
  })

  it('numbers named parameters once per name on Postgres and repeats slots on SQLite', () => {
    const p = compileSql('SELECT :a, :b, :a', 'postgres')
    expect(p.text).toBe('SELECT $1, $2, $1')
    expect(bindParams(p, { a: 1, b: 2 }, 'postgres')).toEqual([1, 2])
    const s = compileSql('SELECT :a, :b, :a', 'sqlite')
    expect(s.text).toBe('SELECT ?, ?, ?')
    expect(bindParams(s, { a: 1, b: 2 }, 'sqlite')).toEqual([1, 2, 1])
  })

  it('does not take a Postgres ::cast or an identifier-attached colon for a parameter', () => {
    expect(pg('SELECT :v::int, arr[lo:hi]')).toBe('SELECT $1::int, arr[lo:hi]')
  })

  it('rejects mixed styles, $1 and ?NNN placeholders', () => {
    expect(() => compileSql('SELECT ?, :a', 'sqlite')).toThrow(/mix/)
    expect(() => compileSql('SELECT $1', 'postgres')).toThrow(/\? or :name/)
    expect(() => compileSql('SELECT ?1', 'sqlite')).toThrow(/Numbered/)
  })

  it('returns the same compiled object for the same SQL (cached)', () => {
    expect(compileSql('SELECT ? AS cached', 'postgres')).toBe(compileSql('SELECT ? AS cached', 'postgres'))
  })
})

describe('bindParams', () => {
  const code = (fn: () => unknown) => {
    try {
      fn()
    } catch (error) {
      return (error as StorageError).code
    }
    return 'no error'
  }

  it('maps booleans to 1/0 on SQLite and keeps them on Postgres', () => {
    expect(bindParams(compileSql('SELECT ?, ?', 'sqlite'), [true, false], 'sqlite')).toEqual([1, 0])
    expect(bindParams(compileSql('SELECT ?, ?', 'postgres'), [true, false], 'postgres')).toEqual([
      true,
      false,
    ])
  })

  it('binds a Date as its ISO string', () => {
    const when = new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6))
    expect(bindParams(compileSql('SELECT ?', 'sqlite'), [when], 'sqlite')).toEqual([
      '2020-01-02T03:04:05.006Z',
    ])
  })

  it('rejects undefined, NaN, objects, and arrays on SQLite', () => {
    const one = compileSql('SELECT ?', 'sqlite')
    expect(code(() => bindParams(one, [undefined as never], 'sqlite'))).toBe('INVALID_ARGUMENT')
    expect(code(() => bindParams(one, [Number.NaN], 'sqlite'))).toBe('INVALID_ARGUMENT')
    expect(code(() => bindParams(one, [{} as never], 'sqlite'))).toBe('INVALID_ARGUMENT')
    expect(code(() => bindParams(one, [[1]], 'sqlite'))).toBe('INVALID_ARGUMENT')
    expect(bindParams(compileSql('SELECT ?', 'postgres'), [[1, 2]], 'postgres')).toEqual([[1, 2]])
  })

  it('names the missing, extra or undefined parameter in the message', () => {
    const named = compileSql('SELECT :alpha, :beta', 'postgres')
    expect(() => bindParams(named, { alpha: 1 }, 'postgres')).toThrow(':beta')
    expect(() => bindParams(named, { alpha: 1, beta: 2, gamma: 3 }, 'postgres')).toThrow(':gamma')
    expect(() => bindParams(named, { alpha: 1, beta: undefined as never }, 'postgres')).toThrow(
      ':beta is undefined',
    )
    expect(() => bindParams(named, [1, 2], 'postgres')).toThrow(/object/)
  })

  it('accepts no parameters, [] or {} for a statement without placeholders', () => {
    const none = compileSql('SELECT 1', 'sqlite')
    expect(bindParams(none, undefined, 'sqlite')).toEqual([])
    expect(bindParams(none, [], 'sqlite')).toEqual([])
    expect(bindParams(none, {}, 'sqlite')).toEqual([])
    expect(code(() => bindParams(none, [1], 'sqlite'))).toBe('INVALID_ARGUMENT')
  })

  it('compiles 100,000 distinct named placeholders (linear, not quadratic, in their number)', () => {
    // The old lookup scanned every earlier name for each one: about 5e9 comparisons here, minutes of blocked event loop.
    const n = 100_000
    const sql = `SELECT 1 WHERE x IN (${Array.from({ length: n }, (_, i) => `:p${i}`).join(', ')})`
    for (const dialect of ['postgres', 'sqlite'] as const) {
      const compiled = compileSql(sql, dialect)
      expect(compiled.names).toHaveLength(n)
      expect(compiled.slots).toHaveLength(n)
      if (dialect === 'postgres') expect(compiled.text.endsWith(`$${n})`)).toBe(true)
    }
  })

  it('keeps repeated names on one Postgres slot and one SQLite slot per use', () => {
    const pg = compileSql('SELECT :a, :b, :a', 'postgres')
    expect(pg.text).toBe('SELECT $1, $2, $1')
    expect(pg.slots).toEqual(['a', 'b'])
    const lite = compileSql('SELECT :a, :b, :a', 'sqlite')
    expect(lite.text).toBe('SELECT ?, ?, ?')
    expect(lite.slots).toEqual(['a', 'b', 'a'])
  })

  it('refuses more parameters than the dialect can bind with INVALID_ARGUMENT naming the array alternative', () => {
    const many = (n: number) => `SELECT 1 WHERE x IN (${new Array(n).fill('?').join(', ')})`
    const sqlite = compileSql(many(32_767), 'sqlite')
    const error = (() => {
      try {
        bindParams(sqlite, new Array(32_767).fill(1), 'sqlite')
      } catch (caught) {
        return caught as StorageError
      }
      return undefined
    })()
    expect(error?.code).toBe('INVALID_ARGUMENT')
    expect(error?.message).toMatch(/json_each/)
    expect(bindParams(compileSql(many(32_766), 'sqlite'), new Array(32_766).fill(1), 'sqlite')).toHaveLength(
      32_766,
    )
    expect(
      code(() => bindParams(compileSql(many(65_536), 'postgres'), new Array(65_536).fill(1), 'postgres')),
    ).toBe('INVALID_ARGUMENT')
  })
})
