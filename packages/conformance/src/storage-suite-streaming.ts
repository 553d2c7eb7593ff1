import { expect, it } from 'vitest'
import { expectStorageError, rejectionOf } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/** `iterate()`: order, parameters, bounded memory over `streamRows` rows, early exit, errors and transactions. */
export function streamingTests(ctx: StorageContext, streamRows: number): void {
  const series = (n: number, extra = '') =>
    `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n}) SELECT n${extra} FROM s`

  it('iterate() yields every row in order', async () => {
    const seen: number[] = []
    for await (const row of ctx.db.iterate<{ n: number }>(series(1000))) seen.push(row.n)
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
  })

  it('iterate() of an empty result yields nothing', async () => {
    const t = await ctx.abc()
    const rows: unknown[] = []
    for await (const row of ctx.db.iterate(`SELECT * FROM ${t} WHERE id < 0`)) rows.push(row)
    expect(rows).toEqual([])
  })

  it('iterate() binds parameters', async () => {
    const t = await ctx.abc()
    const names: unknown[] = []
    for await (const row of ctx.db.iterate<{ name: string }>(
      `SELECT name FROM ${t} WHERE id >= :min ORDER BY id`,
      {
        min: 2,
      },
    )) {
      names.push(row.name)
    }
    expect(names).toEqual(['b', 'c'])
  })

  it('iterate() streams a large result in bounded memory', async () => {
    const memory = (globalThis as { process?: { memoryUsage?: () => { heapUsed: number } } }).process
      ?.memoryUsage
    const before = memory?.().heapUsed ?? 0
    let peak = before
    let count = 0
    for await (const row of ctx.db.iterate<{ n: number; pad: string }>(
      series(streamRows, `, ${ctx.sql.pad(1000)} AS pad`),
    )) {
      count++
      if (row.pad.length !== 1000) throw new Error(`row ${row.n} has a pad of ${row.pad.length}`)
      if (memory && count % 5000 === 0) peak = Math.max(peak, memory().heapUsed)
    }
    expect(count).toBe(streamRows)
    // Holding every row would take about streamRows × 1 KB; a stream stays far below half of that.
    if (memory) expect(peak - before).toBeLessThan((streamRows * 1000) / 2)
  })

  it('iterate() can be stopped early and releases the cursor', async () => {
    const t = await ctx.abc()
    let taken = 0
    for await (const _row of ctx.db.iterate(series(100_000))) {
      if (++taken === 5) break
    }
    expect(taken).toBe(5)
    await ctx.db.run(`INSERT INTO ${t} VALUES (4, 'd')`)
    let again = 0
    for await (const _row of ctx.db.iterate(`SELECT id FROM ${t}`)) again++
    expect(again).toBe(4)
  })

  it('iterate() propagates an error thrown in the loop and releases the cursor', async () => {
    const boom = new Error('stop here')
    const caught = await (async () => {
      for await (const _row of ctx.db.iterate(series(10))) throw boom
    })().catch((error: unknown) => error)
    expect(caught).toBe(boom)
    expect(await ctx.db.get('SELECT 1 AS ok')).toEqual({ ok: 1 })
  })

  it('iterate() reports a bad statement as a StorageError', async () => {
    const iterator = ctx.db.iterate('SELEKT nonsense')[Symbol.asyncIterator]()
    await expectStorageError(
      rejectionOf(() => iterator.next()),
      'SYNTAX_ERROR',
    )
    expect(await ctx.db.get('SELECT 1 AS ok')).toEqual({ ok: 1 })
  })

  it('iterate() inside a transaction sees the transaction’s own writes', async () => {
    const t = await ctx.abc()
    const names = await ctx.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
      const seen: string[] = []
      for await (const row of tx.iterate<{ name: string }>(`SELECT name FROM ${t} ORDER BY id`))
        seen.push(row.name)
      return seen
    })
    expect(names).toEqual(['a', 'b', 'c', 'd'])
  })
}
