import { expect, it } from 'vitest'
import { expectStorageError } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/**
 * Placeholders and values: `?` and `:name` binding outside literals and comments, rejected
 * parameters, and how each kind of value round-trips. With `exactLargeIntegers` false, integers
 * beyond 2^53 must be stored exactly but are not read back as bigints.
 */
export function parameterTests(ctx: StorageContext, exactLargeIntegers: boolean): void {
  it('binds ? parameters in order', async () => {
    expect(await ctx.db.get('SELECT ? AS a, ? AS b, ? AS c', ['x', 2, 'z'])).toEqual({
      a: 'x',
      b: 2,
      c: 'z',
    })
  })

  it('does not treat ? inside a string literal as a parameter', async () => {
    expect(await ctx.db.get(`SELECT 'why?' AS q, ? AS p, 'it''s ?' AS r`, [1])).toEqual({
      q: 'why?',
      p: 1,
      r: "it's ?",
    })
  })

  it('does not treat ? inside a quoted identifier as a parameter', async () => {
    expect(await ctx.db.get(`SELECT ? AS "what?"`, [5])).toEqual({ 'what?': 5 })
  })

  it('does not treat ? or :name inside comments as parameters', async () => {
    const row = await ctx.db.get(
      `SELECT ? AS a -- really? :no
      /* still? :nope */ , 2 AS b`,
      [1],
    )
    expect(row).toEqual({ a: 1, b: 2 })
  })

  it('binds :name parameters by name', async () => {
    expect(await ctx.db.get('SELECT :first AS a, :second AS b', { second: 'two', first: 'one' })).toEqual({
      a: 'one',
      b: 'two',
    })
  })

  it('binds a repeated :name to the same value at every use', async () => {
    const t = await ctx.abc()
    const rows = await ctx.db.all(`SELECT id FROM ${t} WHERE id = :v OR id = :v + 1 ORDER BY id`, {
      v: 2,
    })
    expect(rows).toEqual([{ id: 2 }, { id: 3 }])
  })

  it('does not treat :name inside a string literal as a parameter', async () => {
    expect(await ctx.db.get(`SELECT ':not_a_param' AS s, :real AS r`, { real: 1 })).toEqual({
      s: ':not_a_param',
      r: 1,
    })
  })

  it('rejects a missing named parameter with INVALID_ARGUMENT', async () => {
    const error = await expectStorageError(
      ctx.db.get('SELECT :a AS a, :b AS b', { a: 1 }),
      'INVALID_ARGUMENT',
    )
    expect(error.message).toContain(':b')
  })

  it('rejects an unused named parameter with INVALID_ARGUMENT', async () => {
    const error = await expectStorageError(
      ctx.db.get('SELECT :a AS a', { a: 1, stray: 2 }),
      'INVALID_ARGUMENT',
    )
    expect(error.message).toContain(':stray')
  })

  it('rejects too many positional parameters with INVALID_ARGUMENT', async () => {
    await expectStorageError(ctx.db.get('SELECT ? AS a', [1, 2]), 'INVALID_ARGUMENT')
  })

  it('rejects too few positional parameters with INVALID_ARGUMENT', async () => {
    await expectStorageError(ctx.db.get('SELECT ? AS a, ? AS b', [1]), 'INVALID_ARGUMENT')
  })

  it('rejects parameters for a statement without placeholders', async () => {
    await expectStorageError(ctx.db.get('SELECT 1 AS a', [1]), 'INVALID_ARGUMENT')
  })

  it('rejects mixing ? and :name in one statement', async () => {
    await expectStorageError(ctx.db.get('SELECT ? AS a, :b AS b', [1]), 'INVALID_ARGUMENT')
  })

  it('rejects an undefined parameter and writes nothing', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
    await expectStorageError(
      ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [1, undefined as never]),
      'INVALID_ARGUMENT',
    )
    await expectStorageError(
      ctx.db.run(`INSERT INTO ${t} VALUES (:id, :name)`, { id: 1, name: undefined as never }),
      'INVALID_ARGUMENT',
    )
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 0 })
  })

  it('rejects NaN, invalid Dates and plain objects as parameters', async () => {
    await expectStorageError(ctx.db.get('SELECT ? AS a', [Number.NaN]), 'INVALID_ARGUMENT')
    await expectStorageError(ctx.db.get('SELECT ? AS a', [new Date('nope')]), 'INVALID_ARGUMENT')
    await expectStorageError(ctx.db.get('SELECT ? AS a', [{ a: 1 } as never]), 'INVALID_ARGUMENT')
  })

  it('round-trips NULL as null, distinct from the empty string', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [null, ''])
    expect(await ctx.db.all(`SELECT id, name FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, name: null },
      { id: 2, name: '' },
    ])
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t} WHERE name IS NULL`)).toEqual({ n: 1 })
  })

  it('round-trips a blob byte-exact as a plain Uint8Array', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, data ${ctx.sql.blob}`)
    const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256)
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [bytes, new Uint8Array(0)])
    const rows = await ctx.db.all<{ data: Uint8Array }>(`SELECT data FROM ${t} ORDER BY id`)
    expect(Object.getPrototypeOf(rows[0]?.data)).toBe(Uint8Array.prototype)
    expect(Array.from(rows[0]?.data ?? [])).toEqual(Array.from(bytes))
    expect(rows[1]?.data).toBeInstanceOf(Uint8Array)
    expect(rows[1]?.data.byteLength).toBe(0)
  })

  it('returns integers within ±(2^53-1) as numbers', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
    const values = [0, -1, 42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]
    for (const [i, n] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, n])
    const rows = await ctx.db.all<{ n: unknown }>(`SELECT n FROM ${t} ORDER BY id`)
    expect(rows.map((r) => r.n)).toEqual(values)
  })

  it('round-trips integers beyond 2^53 exactly as bigints', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
    const values = [2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)]
    for (const [i, n] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, n])
    const stored = await ctx.db.all<{ s: unknown }>(`SELECT CAST(n AS TEXT) AS s FROM ${t} ORDER BY id`)
    expect(stored.map((r) => r.s)).toEqual(values.map(String))
    expect(await ctx.db.get(`SELECT id FROM ${t} WHERE n = ?`, [2n ** 63n - 1n])).toEqual({ id: 2 })
    if (!exactLargeIntegers) return
    const rows = await ctx.db.all<{ n: unknown }>(`SELECT n FROM ${t} ORDER BY id`)
    expect(rows.map((r) => r.n)).toEqual(values)
  })

  it('round-trips floating-point numbers', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, x ${ctx.sql.real}`)
    const values = [0.1, -1.5e300, Math.PI, 5e-324]
    for (const [i, x] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, x])
    const rows = await ctx.db.all<{ x: unknown }>(`SELECT x FROM ${t} ORDER BY id`)
    expect(rows.map((r) => r.x)).toEqual(values)
  })

  it('round-trips text with quotes, backslashes, newlines and emoji', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, s TEXT`)
    const text = `it's "quoted" \\ back\\slash\nnew line\ttab — ünïcödé 🚀 ${'x'.repeat(5000)}`
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [text])
    expect(await ctx.db.get(`SELECT s FROM ${t}`)).toEqual({ s: text })
  })

  it('rejects a string with a lone surrogate with INVALID_ARGUMENT and writes nothing, where it would come back changed', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, s TEXT`)
    for (const bad of ['T\uD800', 'x\uDC00y']) {
      await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [bad]), 'INVALID_ARGUMENT')
      await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, :s)`, { s: bad }), 'INVALID_ARGUMENT')
    }
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 0 })
    // U+FFFD itself, and a surrogate pair, are ordinary text.
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, ['T\uFFFD', 'T\u{1F600}'])
    expect(await ctx.db.all(`SELECT s FROM ${t} ORDER BY id`)).toEqual([
      { s: 'T\uFFFD' },
      { s: 'T\u{1F600}' },
    ])
  })

  it('stores NUL in text on SQLite and refuses it with INVALID_ARGUMENT on Postgres', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, s TEXT`)
    const insert = ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, ['a\u0000b'])
    if (ctx.db.dialect === 'postgres') {
      await expectStorageError(insert, 'INVALID_ARGUMENT')
      expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 0 })
    } else {
      await insert
      expect(await ctx.db.get(`SELECT s FROM ${t}`)).toEqual({ s: 'a\u0000b' })
    }
  })

  it('stores an injection attempt in a value verbatim', async () => {
    const t = await ctx.abc()
    const evil = `x'); DROP TABLE ${t}; --`
    await ctx.db.run(`UPDATE ${t} SET name = ? WHERE id = 1`, [evil])
    expect(await ctx.db.get(`SELECT name FROM ${t} WHERE id = 1`)).toEqual({ name: evil })
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
  })

  it('binds booleans as 1/0 on SQLite and as booleans on Postgres', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, flag BOOLEAN`)
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [true, false])
    const rows = await ctx.db.all<{ flag: unknown }>(`SELECT flag FROM ${t} ORDER BY id`)
    const expected = ctx.db.dialect === 'sqlite' ? [1, 0] : [true, false]
    expect(rows.map((r) => r.flag)).toEqual(expected)
    expect(await ctx.db.get(`SELECT id FROM ${t} WHERE flag = ?`, [true])).toEqual({ id: 1 })
  })

  it('binds a Date as its ISO-8601 UTC string', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, at TEXT`)
    const when = new Date(Date.UTC(2024, 1, 29, 13, 45, 6, 789))
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [when])
    expect(await ctx.db.get(`SELECT at FROM ${t}`)).toEqual({ at: '2024-02-29T13:45:06.789Z' })
  })

  it('writes ?? for the Postgres JSONB ? operator, and rejects it on SQLite', async () => {
    if (ctx.db.dialect === 'postgres') {
      const row = await ctx.db.get(`SELECT '{"a":1}'::jsonb ?? 'a' AS has, '{"a":1}'::jsonb ??| ? AS any`, [
        ['b', 'a'],
      ])
      expect(row).toEqual({ has: true, any: true })
    } else {
      await expectStorageError(ctx.db.get(`SELECT 1 ?? 2 AS x`), 'INVALID_ARGUMENT')
    }
  })
}
