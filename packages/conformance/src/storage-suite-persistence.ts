import type { StorageAdapter } from '@engram/core'
import { expect, it } from 'vitest'
import { expectStorageError } from './storage-fixtures.js'
import type { StorageContext } from './storage-suite-harness.js'

/** How the persistence group reopens a database at the same location. */
export interface PersistenceHooks {
  /** A fresh location (a file path, a database name, a key) that nothing uses yet. */
  newLocation(): string | Promise<string>
  /** Opens an adapter at `location`. */
  open(location: string): Promise<StorageAdapter>
  /** Whether something now exists at `location` (used by the in-memory check). */
  exists?(location: string): boolean | Promise<boolean>
  /** The location that means "in memory, keep nothing" (`':memory:'` for SQLite). */
  memoryLocation?: string
}

/** Data and transactions kept across close and reopen at one location; nothing kept in memory. */
export function persistenceTests(ctx: StorageContext, hooks: PersistenceHooks): void {
  const reopen = async (location: string) => {
    const adapter = await hooks.open(location)
    ctx.closeAfter(adapter)
    return adapter
  }

  it('keeps file-backed data across close and reopen', async () => {
    const location = await hooks.newLocation()
    const first = await reopen(location)
    await first.exec('CREATE TABLE kept (id INTEGER PRIMARY KEY, name TEXT)')
    await first.run('INSERT INTO kept VALUES (1, ?)', ['survives'])
    await first.close()
    const second = await reopen(location)
    expect(await second.all('SELECT id, name FROM kept')).toEqual([{ id: 1, name: 'survives' }])
  })

  it('keeps committed transactions and drops rolled-back ones across reopen', async () => {
    const location = await hooks.newLocation()
    const first = await reopen(location)
    await first.exec('CREATE TABLE kept (id INTEGER PRIMARY KEY)')
    await first.transaction((tx) => tx.run('INSERT INTO kept VALUES (1)'))
    const undone = first.transaction(async (tx) => {
      await tx.run('INSERT INTO kept VALUES (2)')
      throw new Error('undo')
    })
    await expect(undone).rejects.toThrow('undo')
    await first.close()
    const second = await reopen(location)
    expect(await second.all('SELECT id FROM kept')).toEqual([{ id: 1 }])
  })

  it('creates nothing for an in-memory database', async ({ skip }) => {
    if (hooks.memoryLocation === undefined || !hooks.exists) skip('no in-memory location for this adapter')
    const location = hooks.memoryLocation as string
    const memory = await reopen(location)
    await memory.exec('CREATE TABLE gone (id INTEGER)')
    await memory.run('INSERT INTO gone VALUES (1)')
    await memory.close()
    expect(await hooks.exists?.(location)).toBe(false)
    const again = await reopen(location)
    await expectStorageError(again.all('SELECT * FROM gone'), 'NOT_FOUND')
  })
}
