import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { isStorageError, type StorageAdapter, StorageError } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createBackupManager, folderDestination } from '../src/index.js'
import { EventLog } from './helpers/event-log.js'
import { GatedDestination } from './helpers/gated-destination.js'
import { seedDatabase } from './helpers/sample-data.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-schedule-'))
let counter = 0
const open: StorageAdapter[] = []

afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()))
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function database(): Promise<StorageAdapter> {
  const db = createSqliteNativeAdapter({ filename: join(scratch, `db-${++counter}.db`) })
  open.push(db)
  await seedDatabase(db, 20)
  return db
}

function gated(): GatedDestination {
  return new GatedDestination(folderDestination(join(scratch, `backups-${++counter}`)))
}

async function objectNames(destination: GatedDestination): Promise<string[]> {
  const names: string[] = []
  for await (const object of destination.list()) names.push(object.name)
  return names.sort()
}

describe('the schedule', () => {
  it('skips and reports a tick that finds the previous backup still running, so runs never overlap', async () => {
    const destination = gated()
    const log = new EventLog()
    const manager = createBackupManager(await database(), destination, { interval: 5, onEvent: log.onEvent })
    destination.hold()
    manager.start()
    await log.waitFor('backup-started')
    await log.waitFor('backup-skipped', 2)
    expect(manager.running).toBe(true)
    destination.release()
    await log.waitFor('backup-completed')
    await manager.stop()
    expect(destination.maxInFlight).toBe(1)
    expect(log.of('backup-skipped')[0]).toEqual({
      type: 'backup-skipped',
      reason: 'the previous backup is still running',
    })
    expect(log.of('backup-started').every((e) => e.scheduled)).toBe(true)
  })

  it('runNow() during a backup waits for it, then takes a new one; concurrent callers share that one', async () => {
    const destination = gated()
    const log = new EventLog()
    const manager = createBackupManager(await database(), destination, { onEvent: log.onEvent })
    destination.hold()
    const first = manager.runNow()
    await log.waitFor('backup-started')
    const second = manager.runNow()
    const third = manager.runNow()
    expect(third).toBe(second)
    destination.release()
    const [a, b, c] = await Promise.all([first, second, third])
    expect(b.key).not.toBe(a.key)
    expect(c).toBe(b)
    expect(b.createdAt.getTime()).toBeGreaterThanOrEqual(a.createdAt.getTime())
    expect(destination.maxInFlight).toBe(1)
    expect((await manager.list()).map((x) => x.key)).toEqual([b.key, a.key])
  })

  it('stop() waits for the backup in progress and the schedule stays stopped', async () => {
    const destination = gated()
    const log = new EventLog()
    const order: string[] = []
    const manager = createBackupManager(await database(), destination, {
      interval: 5,
      onEvent: (event) => {
        log.onEvent(event)
        if (event.type === 'backup-completed') order.push('completed')
      },
    })
    destination.hold()
    manager.start()
    await log.waitFor('backup-started')
    const stopped = manager.stop().then(() => order.push('stopped'))
    expect(manager.started).toBe(false)
    await nextTurn()
    order.push('released')
    destination.release()
    await stopped
    expect(order).toEqual(['released', 'completed', 'stopped'])
    expect(manager.running).toBe(false)
    expect(destination.uploads).toBe(1)
  })

  it('runOnStart takes the first backup at once', async () => {
    const destination = gated()
    const log = new EventLog()
    const manager = createBackupManager(await database(), destination, {
      interval: 3_600_000,
      runOnStart: true,
      onEvent: log.onEvent,
    })
    manager.start()
    const completed = await log.waitFor('backup-completed')
    await manager.stop()
    expect((await manager.list()).map((b) => b.key)).toEqual([completed.backup.key])
  })
})

describe('failures', () => {
  it('a failed upload is reported and retried with backoff, and the retry stores the backup', async () => {
    const destination = gated()
    const log = new EventLog()
    const manager = createBackupManager(await database(), destination, {
      retries: 2,
      retryDelay: 1,
      onEvent: log.onEvent,
    })
    destination.failNext(new StorageError('CONNECTION_FAILED', 'the network went away'))
    destination.failNext(new Error('socket hang up'))
    const backup = await manager.runNow()
    const failures = log.of('backup-failed')
    expect(failures.map((f) => [f.attempt, f.willRetry, f.retryInMs, f.error.code])).toEqual([
      [1, true, 1, 'CONNECTION_FAILED'],
      [2, true, 2, 'QUERY_FAILED'],
    ])
    expect(failures[1]?.error.message).toContain('socket hang up')
    expect(log.of('backup-started').map((e) => e.attempt)).toEqual([1, 2, 3])
    expect((await manager.list()).map((b) => b.key)).toEqual([backup.key])
    expect(await objectNames(destination)).toEqual([backup.object, `${backup.key}.manifest.json`].sort())
  })

  it('a failed manifest upload removes its data object, so nothing half-done is left', async () => {
    const destination = gated()
    const manager = createBackupManager(await database(), destination, { retries: 0 })
    destination.failNext(new StorageError('CONNECTION_FAILED', 'manifest upload failed'), true)
    const error = await manager.runNow().catch((e) => e)
    expect(isStorageError(error, 'CONNECTION_FAILED')).toBe(true)
    expect(await objectNames(destination)).toEqual([])
  })

  it('gives up after the last retry with the error, keeping every earlier backup', async () => {
    const destination = gated()
    const log = new EventLog()
    const manager = createBackupManager(await database(), destination, {
      retries: 1,
      retryDelay: 1,
      maxBackups: 1,
      onEvent: log.onEvent,
    })
    const earlier = await manager.runNow()
    destination.failNext(new StorageError('CONNECTION_FAILED', 'down'))
    destination.failNext(new StorageError('CONNECTION_FAILED', 'still down'))
    const error = await manager.runNow().catch((e) => e)
    expect(isStorageError(error, 'CONNECTION_FAILED')).toBe(true)
    expect((error as Error).message).toBe('still down')
    expect(log.of('backup-failed').map((f) => f.willRetry)).toEqual([true, false])
    expect((await manager.list()).map((b) => b.key)).toEqual([earlier.key])
  })

  it('a failure of the snapshot itself is reported and retried like an upload failure', async () => {
    const destination = gated()
    const log = new EventLog()
    const db = await database()
    const manager = createBackupManager(db, destination, { retries: 1, retryDelay: 1, onEvent: log.onEvent })
    await db.close()
    const error = await manager.runNow().catch((e) => e)
    expect(isStorageError(error, 'CLOSED')).toBe(true)
    expect(log.of('backup-failed')).toHaveLength(2)
    expect(destination.uploads).toBe(0)
  })
})
