import { expect, it } from 'vitest'
import { uniqueName } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/** Statements, results and scripts: changes, rowids, get/all/exec, RETURNING and concurrent calls. */
export function basicTests(ctx: StorageContext): void {
  it('reports its kind and dialect', () => {
    expect(typeof ctx.db.kind).toBe('string')
    expect(ctx.db.kind.length).toBeGreaterThan(0)
    expect(['sqlite', 'postgres']).toContain(ctx.db.dialect)
  })

  it('reports changes for a multi-row INSERT', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
    const result = await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
    expect(result.changes).toBe(3)
  })

  it('reports changes for an UPDATE', async () => {
    const t = await ctx.abc()
    expect((await ctx.db.run(`UPDATE ${t} SET name = 'z' WHERE id >= 2`)).changes).toBe(2)
  })

  it('reports changes for a DELETE', async () => {
    const t = await ctx.abc()
    expect((await ctx.db.run(`DELETE FROM ${t} WHERE id <> 2`)).changes).toBe(2)
  })

  it('reports 0 changes for DDL', async () => {
    const t = uniqueName('t')
    ctx.tables.push(t)
    expect((await ctx.db.run(`CREATE TABLE ${t} (id ${ctx.sql.int})`)).changes).toBe(0)
  })

  it('reports 0 changes for an UPDATE that matches nothing', async () => {
    const t = await ctx.abc()
    expect((await ctx.db.run(`UPDATE ${t} SET name = 'z' WHERE id = 99`)).changes).toBe(0)
  })

  it('reports lastInsertRowid of the inserted row', async ({ skip }) => {
    if (!ctx.db.capabilities.lastInsertRowid) skip('this adapter has no rowids')
    const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
    await ctx.db.run(`INSERT INTO ${t} (name) VALUES ('a')`)
    const second = await ctx.db.run(`INSERT INTO ${t} (name) VALUES (?)`, ['b'])
    expect(second.lastInsertRowid).toBe(2)
  })

  it('reports lastInsertRowid above 2^53 exactly, as a bigint', async ({ skip }) => {
    if (!ctx.db.capabilities.lastInsertRowid) skip('this adapter has no rowids')
    const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
    const big = 2n ** 60n + 7n
    await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (?, 'big')`, [big])
    const next = await ctx.db.run(`INSERT INTO ${t} (name) VALUES ('after')`)
    expect(next.lastInsertRowid).toBe(big + 1n)
  })

  it('get() returns the first row', async () => {
    const t = await ctx.abc()
    expect(await ctx.db.get(`SELECT id, name FROM ${t} ORDER BY id DESC`)).toEqual({ id: 3, name: 'c' })
  })

  it('get() returns undefined when there is no row', async () => {
    const t = await ctx.abc()
    expect(await ctx.db.get(`SELECT id FROM ${t} WHERE id = 42`)).toBeUndefined()
  })

  it('all() returns every row in query order', async () => {
    const t = await ctx.abc()
    expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id DESC`)).toEqual([
      { name: 'c' },
      { name: 'b' },
      { name: 'a' },
    ])
  })

  it('all() returns [] when there are no rows', async () => {
    const t = await ctx.abc()
    expect(await ctx.db.all(`SELECT id FROM ${t} WHERE id > 10`)).toEqual([])
  })

  it('exec() runs a script of several statements', async () => {
    const t = uniqueName('t')
    ctx.tables.push(t)
    await ctx.db.exec(`
      CREATE TABLE ${t} (id ${ctx.sql.int}, name TEXT);
      INSERT INTO ${t} VALUES (1, 'one');
      INSERT INTO ${t} VALUES (2, 'two');
      UPDATE ${t} SET name = 'TWO' WHERE id = 2;
    `)
    expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([{ name: 'one' }, { name: 'TWO' }])
  })

  it('exec() keeps ; inside string literals and comments', async () => {
    const t = uniqueName('t')
    ctx.tables.push(t)
    await ctx.db.exec(`
      CREATE TABLE ${t} (id ${ctx.sql.int}, name TEXT); -- a comment; with a semicolon
      /* a block; comment */ INSERT INTO ${t} VALUES (1, 'semi;colon; ''quoted;''');
      INSERT INTO ${t} VALUES (2, '-- not a comment; /* nor this */')
    `)
    expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([
      { name: "semi;colon; 'quoted;'" },
      { name: '-- not a comment; /* nor this */' },
    ])
  })

  it('exec() of an empty script does nothing', async () => {
    await expect(ctx.db.exec('  ')).resolves.toBeUndefined()
  })

  it('keeps the case of column aliases', async () => {
    expect(await ctx.db.get(`SELECT 1 AS "camelCase", 2 AS "UPPER", 3 AS lower_snake`)).toEqual({
      camelCase: 1,
      UPPER: 2,
      lower_snake: 3,
    })
  })

  it('returns rows from INSERT … RETURNING', async ({ skip }) => {
    if (!ctx.db.capabilities.returning) skip('no RETURNING')
    const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
    expect(await ctx.db.get(`INSERT INTO ${t} (name) VALUES (?) RETURNING id, name`, ['r'])).toEqual({
      id: 1,
      name: 'r',
    })
  })

  it('runs many concurrent calls, all of which complete', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    await Promise.all(Array.from({ length: 100 }, (_, i) => ctx.db.run(`INSERT INTO ${t} VALUES (?)`, [i])))
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 100 })
  })
}
