import type { StorageAdapter } from '@engram/core'
import { expect, it } from 'vitest'
import { expectStorageError, rejectionOf, sleep } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/** Commit, rollback, savepoints, isolation from calls outside a transaction, and ended handles. */
export function transactionTests(ctx: StorageContext): void {
  it('commits and returns the callback value', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    const value = await ctx.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO ${t} VALUES (1), (2)`)
      return { inserted: 2 }
    })
    expect(value).toEqual({ inserted: 2 })
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 2 })
  })

  it('rolls back when the callback throws and rethrows the original error', async () => {
    const t = await ctx.abc()
    const boom = new Error('boom')
    const caught = await ctx.db
      .transaction(async (tx) => {
        await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
        await tx.run(`UPDATE ${t} SET name = 'changed'`)
        throw boom
      })
      .catch((error: unknown) => error)
    expect(caught).toBe(boom)
    expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([
      { name: 'a' },
      { name: 'b' },
      { name: 'c' },
    ])
  })

  it('rethrows a non-Error rejection as it is', async () => {
    const caught = await ctx.db
      .transaction(async () => {
        throw 'plain string'
      })
      .catch((error: unknown) => error)
    expect(caught).toBe('plain string')
  })

  it('rolls back everything when a statement inside fails', async () => {
    const t = await ctx.abc()
    await expectStorageError(
      ctx.db.transaction(async (tx) => {
        await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
        await tx.run(`INSERT INTO ${t} VALUES (1, 'duplicate')`)
      }),
      'UNIQUE_VIOLATION',
    )
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
  })

  it('runs a nested transaction as a savepoint: an inner failure keeps the outer work', async () => {
    const t = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY`)
    await ctx.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO ${t} VALUES (1)`)
      await expectStorageError(
        tx.transaction(async (inner) => {
          await inner.run(`INSERT INTO ${t} VALUES (2)`)
          await inner.run(`INSERT INTO ${t} VALUES (1)`)
        }),
        'UNIQUE_VIOLATION',
      )
      await tx.run(`INSERT INTO ${t} VALUES (3)`)
    })
    expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }])
  })

  it('commits a successful nested transaction with the outer one', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    const inner = await ctx.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO ${t} VALUES (1)`)
      return tx.transaction(async (nested) => {
        await nested.run(`INSERT INTO ${t} VALUES (2)`)
        return 'inner value'
      })
    })
    expect(inner).toBe('inner value')
    expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('discards a committed savepoint when the outer transaction rolls back', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    await ctx.db
      .transaction(async (tx) => {
        await tx.transaction(async (nested) => {
          await nested.run(`INSERT INTO ${t} VALUES (1)`)
        })
        throw new Error('outer fails')
      })
      .catch(() => undefined)
    expect(await ctx.db.all(`SELECT id FROM ${t}`)).toEqual([])
  })

  it('supports three levels of nesting with a failure in the middle level', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    await ctx.db.transaction(async (a) => {
      await a.run(`INSERT INTO ${t} VALUES (1)`)
      await a
        .transaction(async (b) => {
          await b.run(`INSERT INTO ${t} VALUES (2)`)
          await b.transaction(async (c) => {
            await c.run(`INSERT INTO ${t} VALUES (3)`)
          })
          throw new Error('level two fails')
        })
        .catch(() => undefined)
      await a.run(`INSERT INTO ${t} VALUES (4)`)
    })
    expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 4 }])
  })

  it('keeps calls made outside a running transaction out of it', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, who TEXT`)
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const failing = ctx.db.transaction(async (tx) => {
      await tx.run(`INSERT INTO ${t} VALUES (1, 'tx')`)
      entered()
      await sleep(20)
      throw new Error('roll back')
    })
    await inside
    const outside = ctx.db.run(`INSERT INTO ${t} VALUES (2, 'outside')`)
    await expect(failing).rejects.toThrow('roll back')
    await outside
    expect(await ctx.db.all(`SELECT who FROM ${t} ORDER BY id`)).toEqual([{ who: 'outside' }])
  })

  it('never lets two concurrent transactions see part of each other', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, who TEXT`)
    const work = (who: string, base: number) =>
      ctx.db.transaction(async (tx) => {
        await tx.run(`INSERT INTO ${t} VALUES (?, ?)`, [base, who])
        await sleep(10)
        await tx.run(`INSERT INTO ${t} VALUES (?, ?)`, [base + 1, who])
        await sleep(10)
        return (await tx.all<{ who: string }>(`SELECT who FROM ${t} ORDER BY id`)).map((r) => r.who)
      })
    const [seenByA, seenByB] = await Promise.all([work('a', 1), work('b', 3)])
    const whole = (seen: string[], mine: string, theirs: string) => {
      expect(seen.filter((w) => w === mine)).toHaveLength(2)
      expect([0, 2]).toContain(seen.filter((w) => w === theirs).length)
    }
    whole(seenByA, 'a', 'b')
    whole(seenByB, 'b', 'a')
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 4 })
  })

  it('serialises read-modify-write transactions on a single connection', async ({ skip }) => {
    if (ctx.db.capabilities.concurrency !== 'single') skip('pooled adapters isolate rather than serialise')
    const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
    await ctx.db.run(`INSERT INTO ${t} VALUES (1, 0)`)
    await Promise.all(
      Array.from({ length: 10 }, () =>
        ctx.db.transaction(async (tx) => {
          const row = await tx.get<{ n: number }>(`SELECT n FROM ${t} WHERE id = 1`)
          await sleep(1)
          await tx.run(`UPDATE ${t} SET n = ? WHERE id = 1`, [(row?.n ?? 0) + 1])
        }),
      ),
    )
    expect(await ctx.db.get(`SELECT n FROM ${t}`)).toEqual({ n: 10 })
  })

  it('rejects use of a transaction handle after the transaction ended with CLOSED', async () => {
    let leaked: StorageAdapter | undefined
    await ctx.db.transaction(async (tx) => {
      leaked = tx
    })
    await expectStorageError(
      rejectionOf(() => leaked?.get('SELECT 1 AS x')),
      'CLOSED',
    )
  })

  it('keeps the portable error code for a failure inside a transaction', async () => {
    const t = await ctx.abc()
    const error = await expectStorageError(
      ctx.db.transaction((tx) => tx.run(`INSERT INTO ${t} VALUES (2, 'again')`)),
      'UNIQUE_VIOLATION',
    )
    expect(error.cause).toBeDefined()
  })

  it('stays usable after a rolled-back transaction', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}`)
    await ctx.db
      .transaction(async (tx) => {
        await tx.run(`INSERT INTO ${t} VALUES (1)`)
        throw new Error('no')
      })
      .catch(() => undefined)
    await ctx.db.transaction((tx) => tx.run(`INSERT INTO ${t} VALUES (2)`))
    await ctx.db.run(`INSERT INTO ${t} VALUES (3)`)
    expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 2 }, { id: 3 }])
  })

  it('restores updated and deleted rows on rollback', async () => {
    const t = await ctx.abc()
    await ctx.db
      .transaction(async (tx) => {
        await tx.run(`UPDATE ${t} SET name = 'x' WHERE id = 1`)
        await tx.run(`DELETE FROM ${t} WHERE id = 2`)
        expect(await tx.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 2 })
        throw new Error('undo')
      })
      .catch(() => undefined)
    expect(await ctx.db.all(`SELECT id, name FROM ${t} ORDER BY id`)).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
    ])
  })
}
