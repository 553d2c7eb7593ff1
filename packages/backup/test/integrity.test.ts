import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isStorageError, type StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqlJsAdapter } from '@engram/sqljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BackupDestination,
  createBackupManager,
  folderDestination,
  s3Destination,
} from '../src/index.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { readEverything, readNotes, seedDatabase } from './helpers/sample-data.js'
import { flipByte, folderTamper, s3Tamper, type Tamper, truncate } from './helpers/tamper.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-integrity-'))
let s3: S3rverHandle
let counter = 0

beforeAll(async () => {
  s3 = await startS3rver('engram-integrity')
})
afterAll(async () => {
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

interface Place {
  destination: BackupDestination
  tamper: Tamper
}

const places: Array<[string, () => Place]> = [
  [
    'a folder',
    () => {
      const folder = join(scratch, `folder-${++counter}`)
      return { destination: folderDestination(folder), tamper: folderTamper(folder) }
    },
  ],
  [
    's3rver',
    () => {
      const prefix = `run-${++counter}/`
      return {
        destination: s3Destination({
          bucket: 'engram-integrity',
          prefix,
          endpoint: s3.endpoint,
          credentials: S3RVER_CREDENTIALS,
        }),
        tamper: s3Tamper(s3.client(), 'engram-integrity', prefix),
      }
    },
  ],
]

/** A source database, its backup, and a target that already holds other data. */
async function backedUp(place: Place) {
  const source = createSqliteNativeAdapter({ filename: join(scratch, `source-${++counter}.db`) })
  await seedDatabase(source)
  const manager = createBackupManager(source, place.destination)
  const backup = await manager.runNow()
  const targetPath = join(scratch, `target-${++counter}.db`)
  const target = createSqliteNativeAdapter({ filename: targetPath })
  await seedDatabase(target, 5)
  await target.close()
  return { source, manager, backup, targetPath }
}

async function expectRefused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isStorageError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
  expect((error as Error).message).toMatch(pattern)
  expect((error as Error).message).toContain('Nothing was changed')
}

async function rowsAt(path: string) {
  const db = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
  try {
    return await readEverything(db)
  } finally {
    await db.close()
  }
}

describe.each(places)('integrity of backups in %s', (_name, makePlace) => {
  it('refuses a backup with one flipped byte and leaves the old file as it was', async () => {
    const place = makePlace()
    const { source, manager, backup, targetPath } = await backedUp(place)
    const before = await rowsAt(targetPath)
    await place.tamper.rewrite(backup.object, flipByte)
    await expectRefused(
      manager.restore(backup.key, { into: targetPath, replace: true }),
      /is corrupt: the sha256/,
    )
    expect(await rowsAt(targetPath)).toEqual(before)
    await source.close()
  })

  it('refuses a truncated backup and leaves the old file as it was', async () => {
    const place = makePlace()
    const { source, manager, backup, targetPath } = await backedUp(place)
    const before = await rowsAt(targetPath)
    await place.tamper.rewrite(backup.object, truncate)
    await expectRefused(manager.restore(backup.key, { into: targetPath, replace: true }), /is truncated/)
    expect(await rowsAt(targetPath)).toEqual(before)
    await source.close()
  })

  it('refuses a corrupt backup before an image adapter is touched', async () => {
    const place = makePlace()
    const source = await createSqlJsAdapter()
    await seedDatabase(source)
    const manager = createBackupManager(source, place.destination)
    const backup = await manager.runNow()
    const target = await createSqlJsAdapter()
    await seedDatabase(target, 3)
    const before = await readNotes(target)
    await place.tamper.rewrite(backup.object, flipByte)
    await expectRefused(manager.restore(backup.key, { into: target, replace: true }), /is corrupt/)
    expect(await readNotes(target)).toEqual(before)
    await Promise.all([source.close(), target.close()])
  })

  it('does not list or restore a backup whose manifest is missing', async () => {
    const place = makePlace()
    const { source, manager, backup } = await backedUp(place)
    await place.destination.delete([`${backup.key}.manifest.json`])
    expect(await manager.list()).toEqual([])
    const error = await manager
      .restore(backup.key, { into: join(scratch, `never-${++counter}.db`) })
      .catch((e) => e)
    expect(isStorageError(error, 'NOT_FOUND')).toBe(true)
    expect((error as Error).message).toContain('has no manifest')
    await source.close()
  })

  it('refuses a damaged manifest', async () => {
    const place = makePlace()
    const { source, manager, backup } = await backedUp(place)
    await place.tamper.rewrite(`${backup.key}.manifest.json`, (bytes) => bytes.slice(0, 20))
    const error = await manager
      .restore(backup.key, { into: join(scratch, `never-${++counter}.db`) })
      .catch((e) => e)
    expect(isStorageError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toMatch(/manifest of backup .* is damaged/)
    await source.close()
  })
})

describe('restoring over existing data', () => {
  it('refuses to replace an existing file without replace: true', async () => {
    const place = places[0]![1]()
    const { source, manager, backup, targetPath } = await backedUp(place)
    const before = await rowsAt(targetPath)
    const error = await manager.restore(backup.key, { into: targetPath }).catch((e) => e)
    expect(isStorageError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toContain('replace: true')
    expect(await rowsAt(targetPath)).toEqual(before)
    await manager.restore(backup.key, { into: targetPath, replace: true })
    expect(await rowsAt(targetPath)).toEqual(await readEverything(source))
    await source.close()
  })

  it('refuses to swap a file that is open (its WAL holds data), changing nothing', async () => {
    const place = places[0]![1]()
    const { source, manager, backup, targetPath } = await backedUp(place)
    const open: StorageAdapter = createSqliteNativeAdapter({ filename: targetPath })
    await open.run("INSERT INTO notes (id, body) VALUES (999, 'written while open')")
    const error = await manager.restore(backup.key, { into: targetPath, replace: true }).catch((e) => e)
    expect(isStorageError(error, 'BUSY')).toBe(true)
    expect((error as Error).message).toContain('Close every connection')
    expect(await open.get('SELECT body FROM notes WHERE id = 999')).toEqual({ body: 'written while open' })
    await open.close()
    await source.close()
  })
})
