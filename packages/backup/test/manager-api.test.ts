import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isStorageError, type StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqlJsAdapter } from '@engram/sqljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBackupManager, createCloudBackupManager, folderDestination } from '../src/index.js'
import { postgresSchemas } from './helpers/postgres-schemas.js'
import { type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { readEverything, readNotes, seedDatabase } from './helpers/sample-data.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-api-'))
let s3: S3rverHandle
let counter = 0
let db: StorageAdapter

beforeAll(async () => {
  s3 = await startS3rver('agentos-memory')
  db = createSqliteNativeAdapter({ filename: join(scratch, 'source.db') })
  await seedDatabase(db, 30)
})
afterAll(async () => {
  await db?.close()
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

const folder = () => folderDestination(join(scratch, `folder-${++counter}`))

describe('createCloudBackupManager, the shape earlier backup managers had', () => {
  it('takes (db, s3Client, bucket, { interval, maxBackups, options: { compression, prefix } }) and restores by timestamp', async () => {
    const client = s3.client()
    const backups = createCloudBackupManager(db, client, 'agentos-memory', {
      interval: 3_600_000,
      maxBackups: 2,
      options: { compression: 'gzip', prefix: 'memory-backups/' },
    })
    expect(backups.destination.description).toBe('s3://agentos-memory/memory-backups/')
    const first = await backups.runNow()
    expect(first.compression).toBe('gzip')
    await db.run("INSERT INTO notes (id, body) VALUES (5000, 'after the first backup')")
    const second = await backups.runNow()
    await backups.runNow()
    expect((await backups.list()).map((b) => b.key)).not.toContain(first.key)

    const path = join(scratch, `cloud-${++counter}.db`)
    await backups.restore(second.createdAt.getTime(), { into: path })
    const restored = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
    expect(await readNotes(restored)).toEqual(await readNotes(db))
    await restored.close()
    await db.run('DELETE FROM notes WHERE id = 5000')
  })

  it("restore(timestamp) without into replaces the manager's own database, as callers of that shape expect", async () => {
    const live = await createSqlJsAdapter()
    await seedDatabase(live, 10)
    const backups = createCloudBackupManager(live, s3.client(), 'agentos-memory', {
      options: { prefix: `own-${++counter}/` },
    })
    const backup = await backups.runNow()
    const before = await readEverything(live)
    await live.run('DELETE FROM notes')
    await backups.restore(backup.createdAt)
    expect(await readEverything(live)).toEqual(before)
    await live.close()
  })

  it('offers backupNow(), listBackups() and onSuccess/onError, and restores by the full object key', async () => {
    const succeeded: string[] = []
    const failed: string[] = []
    const backups = createCloudBackupManager(db, s3.client(), 'agentos-memory', {
      retries: 0,
      onSuccess: (key) => succeeded.push(key),
      onError: (error) => failed.push(error.code),
      options: { prefix: `calls-${++counter}/` },
    })
    const key = await backups.backupNow()
    expect(succeeded).toEqual([key])
    expect(await backups.listBackups()).toEqual([key])
    const [info] = await backups.list()
    const path = join(scratch, `by-object-key-${counter}.db`)
    expect((await backups.restore(`calls-${counter}/${info?.object}`, { into: path })).key).toBe(key)
    const broken = createCloudBackupManager(db, s3.client(), 'no-such-bucket', {
      retries: 0,
      onError: (e) => failed.push(e.code),
    })
    await expect(broken.backupNow()).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(failed).toEqual(['NOT_FOUND'])
  })

  it("maps format 'json' and 'sql' to engram's logical format", async () => {
    const backups = createCloudBackupManager(db, s3.client(), 'agentos-memory', {
      options: { format: 'sql', tables: ['notes'], prefix: `sql-${++counter}/` },
    })
    expect((await backups.runNow()).format).toBe('engram-jsonl')
  })
})

describe('choosing a backup to restore', () => {
  it("accepts a key, a data object's name, 'latest', a Date or epoch milliseconds", async () => {
    const manager = createBackupManager(db, folder())
    const older = await manager.runNow()
    const newer = await manager.runNow()
    const into = () => join(scratch, `pick-${++counter}.db`)
    expect((await manager.restore(older.key, { into: into() })).key).toBe(older.key)
    expect((await manager.restore(older.object, { into: into() })).key).toBe(older.key)
    expect((await manager.restore('latest', { into: into() })).key).toBe(newer.key)
    expect((await manager.restore(older.createdAt, { into: into() })).key).toBe(older.key)
    expect((await manager.restore(newer.createdAt.getTime(), { into: into() })).key).toBe(newer.key)
  })

  it('says what a key looks like, and which times have backups', async () => {
    const manager = createBackupManager(db, folder())
    const bad = await manager.restore('yesterday').catch((e) => e)
    expect(isStorageError(bad, 'INVALID_ARGUMENT')).toBe(true)
    expect((bad as Error).message).toContain('is not a backup key')
    const none = await manager.restore('latest').catch((e) => e)
    expect(isStorageError(none, 'NOT_FOUND')).toBe(true)
    const missing = await manager.restore(new Date(0)).catch((e) => e)
    expect(isStorageError(missing, 'NOT_FOUND')).toBe(true)
    expect((missing as Error).message).toContain('1970-01-01T00:00:00.000Z')
  })
})

describe('restoring a SQLite image into a live sqlite-native adapter', () => {
  it('replaces its tables in one transaction when asked, and refuses otherwise', async () => {
    const manager = createBackupManager(db, folder())
    const backup = await manager.runNow()
    const live = createSqliteNativeAdapter({ filename: join(scratch, `live-${++counter}.db`) })
    await seedDatabase(live, 4)
    const refused = await manager.restore(backup.key, { into: live }).catch((e) => e)
    expect(isStorageError(refused, 'INVALID_ARGUMENT')).toBe(true)
    expect(await readNotes(live)).toHaveLength(4)
    const result = await manager.restore(backup.key, { into: live, replace: true })
    expect(result.method).toBe('tables')
    expect(await readEverything(live)).toEqual(await readEverything(db))
    await live.close()
  })
})

describe('folderDestination', () => {
  it('never shows a half-written file, and lists only plain object names', async () => {
    const path = join(scratch, `plain-${++counter}`)
    const destination = folderDestination(path)
    await destination.put('engram-20260101T000000000Z-abcdef.sqlite', new Uint8Array([1, 2]), {})
    writeFileSync(join(path, '.engram-20260101T000000000Z-abcdef.sqlite.partial-1234'), 'half')
    const listed = []
    for await (const object of destination.list()) listed.push(object)
    expect(listed).toEqual([{ name: 'engram-20260101T000000000Z-abcdef.sqlite', size: 2 }])
    await destination.sweep?.(new Date(Date.now() + 60_000))
    expect(readdirSync(path)).toEqual(['engram-20260101T000000000Z-abcdef.sqlite'])
  })

  it('refuses names that would leave the folder', async () => {
    const destination = folderDestination(join(scratch, `names-${++counter}`))
    for (const name of ['../escape', 'a/b', '.hidden', '']) {
      const error = await destination.put(name, new Uint8Array([1]), {}).catch((e) => e)
      expect(isStorageError(error, 'INVALID_ARGUMENT'), name).toBe(true)
    }
  })
})

describe('options', () => {
  it('refuses bad options with INVALID_ARGUMENT naming the option', () => {
    const destination = folder()
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ interval: 0 }, /interval must be a whole number/],
      [{ maxBackups: 0 }, /maxBackups must be a whole number from 1/],
      [{ compression: 'zstd' }, /compression must be 'gzip' or 'none'/],
      [{ gzipLevel: 11 }, /gzipLevel must be a whole number from 1 to 9/],
      [{ format: 'sql' }, /format must be 'sqlite-image' or 'engram-jsonl'/],
      [{ tables: [] }, /tables must be a non-empty list/],
      [{ tables: ['notes'], format: 'sqlite-image' }, /tables needs format 'engram-jsonl'/],
      [{ name: 'bad name' }, /name must be 1 to 63/],
      [{ retries: -1 }, /retries must be a whole number/],
      [{ onEvent: 'log' }, /onEvent must be a function/],
      [{ runOnStart: 'true' }, /runOnStart must be true or false, got "true"/],
    ]
    for (const [options, message] of bad) {
      expect(() => createBackupManager(db, destination, options as never), JSON.stringify(options)).toThrow(
        message,
      )
    }
    expect(() => createBackupManager({} as never, destination)).toThrow(/needs a StorageAdapter/)
    expect(() => createBackupManager(db, {} as never)).toThrow(/needs a destination/)
  })

  it("a 'sqlite-image' backup of Postgres is refused with what to use instead", async () => {
    const schemas = postgresSchemas()
    try {
      const pg = await schemas.create()
      const manager = createBackupManager(pg, folder(), { format: 'sqlite-image', retries: 0 })
      const error = await manager.runNow().catch((e) => e)
      expect(isStorageError(error, 'UNSUPPORTED')).toBe(true)
      expect((error as Error).message).toContain("use format 'engram-jsonl'")
    } finally {
      await schemas.cleanup()
    }
  })
})
