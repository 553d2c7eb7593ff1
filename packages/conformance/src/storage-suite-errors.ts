import { StorageError } from '@engram/core'
import { expect, it } from 'vitest'
import { expectStorageError, rejectionOf, uniqueName } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/** Portable error codes for constraint, syntax and missing-table failures, and the closed state. */
export function errorTests(ctx: StorageContext): void {
  it('reports a unique violation as UNIQUE_VIOLATION with the driver error as cause', async () => {
    const t = await ctx.abc()
    const error = await expectStorageError(
      ctx.db.run(`INSERT INTO ${t} VALUES (1, 'again')`),
      'UNIQUE_VIOLATION',
    )
    expect(error.cause).toBeDefined()
    expect(error.cause).not.toBeInstanceOf(StorageError)
  })

  it('reports a foreign key violation as FOREIGN_KEY_VIOLATION', async () => {
    const parent = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY`)
    // Tables are dropped last-created first, so the child goes before the parent it references.
    const child = await ctx.table(`id ${ctx.sql.int}, parent_id ${ctx.sql.int} REFERENCES ${parent}(id)`)
    await ctx.db.run(`INSERT INTO ${parent} VALUES (1)`)
    await ctx.db.run(`INSERT INTO ${child} VALUES (1, 1)`)
    await expectStorageError(ctx.db.run(`INSERT INTO ${child} VALUES (2, 99)`), 'FOREIGN_KEY_VIOLATION')
  })

  it('reports a NOT NULL violation as NOT_NULL_VIOLATION', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, name TEXT NOT NULL`)
    await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [null]), 'NOT_NULL_VIOLATION')
  })

  it('reports a CHECK violation as CHECK_VIOLATION', async () => {
    const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int} CHECK (n > 0)`)
    await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, -1)`), 'CHECK_VIOLATION')
  })

  it('reports a syntax error as SYNTAX_ERROR and keeps the SQL', async () => {
    const error = await expectStorageError(ctx.db.all('SELEKT 1'), 'SYNTAX_ERROR')
    expect(error.sql).toBe('SELEKT 1')
  })

  it('reports an unknown table as NOT_FOUND', async () => {
    await expectStorageError(ctx.db.all(`SELECT * FROM ${uniqueName('missing')}`), 'NOT_FOUND')
  })

  it('rejects SQL that is not a string with INVALID_ARGUMENT', async () => {
    await expectStorageError(
      rejectionOf(() => ctx.db.all(42 as never)),
      'INVALID_ARGUMENT',
    )
  })

  it('stays usable after a failed statement', async () => {
    const t = await ctx.abc()
    await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, 'dup')`), 'UNIQUE_VIOLATION')
    expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
  })

  it('fails every call after close() with CLOSED', async () => {
    await ctx.db.close()
    const calls: ReadonlyArray<() => unknown> = [
      () => ctx.db.exec('SELECT 1'),
      () => ctx.db.run('SELECT 1'),
      () => ctx.db.get('SELECT 1'),
      () => ctx.db.all('SELECT 1'),
      () => ctx.db.transaction(async () => 1),
    ]
    for (const call of calls) await expectStorageError(rejectionOf(call), 'CLOSED')
    const iterator = ctx.db.iterate('SELECT 1')[Symbol.asyncIterator]()
    await expectStorageError(
      rejectionOf(() => iterator.next()),
      'CLOSED',
    )
  })

  it('treats a second close() as a no-op', async () => {
    await ctx.db.close()
    await expect(ctx.db.close()).resolves.toBeUndefined()
  })

  it('lets calls queued before close() finish, and fails those after it', async () => {
    const t = await ctx.abc()
    const queued = ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)
    const closing = ctx.db.close()
    await expectStorageError(
      rejectionOf(() => ctx.db.get('SELECT 1')),
      'CLOSED',
    )
    expect(await queued).toEqual({ n: 3 })
    await closing
  })

  it('lets a transaction running when close() is called finish its work and commit', async () => {
    const t = await ctx.abc()
    let release!: () => void
    const hold = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const work = ctx.db.transaction(async (tx) => {
      entered()
      await hold
      await tx.run(`INSERT INTO ${t} (id, name) VALUES (4, 'd')`)
      return tx.get(`SELECT COUNT(*) AS n FROM ${t}`)
    })
    await inside
    const closing = ctx.db.close()
    release()
    expect(await work).toEqual({ n: 4 })
    await closing
  })
}
