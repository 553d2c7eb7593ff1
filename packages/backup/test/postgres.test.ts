import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { isStorageError, type StorageAdapter } from '@engram/core'
import { ConversationMemory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BackupDestination,
  createBackupManager,
  folderDestination,
  s3Destination,
} from '../src/index.js'
import { postgresSchemas } from './helpers/postgres-schemas.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { readEverything, readNotes, seedDatabase } from './helpers/sample-data.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-pg-'))
const schemas = postgresSchemas()
let s3: S3rverHandle
let counter = 0

beforeAll(async () => {
  s3 = await startS3rver('engram-pg')
})
afterAll(async () => {
  await schemas.cleanup()
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

const destinations: Array<[string, () => BackupDestination]> = [
  ['a folder', () => folderDestination(join(scratch, `folder-${++counter}`))],
  [
    's3rver',
    () =>
      s3Destination({
        bucket: 'engram-pg',
        prefix: `run-${++counter}`,
        endpoint: s3.endpoint,
        credentials: S3RVER_CREDENTIALS,
      }),
  ],
]

describe.each(destinations)('Postgres backups through %s', (_name, makeDestination) => {
  it('a gzip backup of a Postgres schema restores into a fresh schema with identical rows', async () => {
    const source = await schemas.create()
    await seedDatabase(source)
    const manager = createBackupManager(source, makeDestination())
    const backup = await manager.runNow()
    expect(backup).toMatchObject({ format: 'engram-jsonl', compression: 'gzip' })
    const target = await schemas.create()
    const result = await manager.restore(backup.key, { into: target })
    expect(result.method).toBe('tables')
    expect(await readEverything(target)).toEqual(await readEverything(source))
    // Identity columns carry on after the restored rows: the restored database takes new turns.
    const memory = new ConversationMemory(target)
    await memory.storeConversationTurn('user-0', 'chat-0', { role: 'user', content: 'after the restore' })
    expect((await memory.retrieveConversationTurns('user-0', 'chat-0')).at(-1)?.content).toBe(
      'after the restore',
    )
    // The restore leaves none of migrate's bookkeeping behind.
    expect(await target.get("SELECT to_regclass('engram_migrate_checkpoints')::text AS t")).toEqual({
      t: null,
    })
  })

  it('a gzip backup of a SQLite file restores into Postgres with the same rows', async () => {
    const source = createSqliteNativeAdapter({ filename: join(scratch, `source-${++counter}.db`) })
    await seedDatabase(source)
    const manager = createBackupManager(source, makeDestination())
    const backup = await manager.runNow()
    expect(backup.format).toBe('sqlite-image')
    const target = await schemas.create()
    const result = await manager.restore(backup.key, { into: target })
    expect(result).toMatchObject({ method: 'tables', notes: [] })
    expect(await readEverything(target)).toEqual(await readEverything(source))
    const memory = new ConversationMemory(target)
    await memory.storeConversationTurn('user-1', 'chat-1', { role: 'user', content: 'after the restore' })
    expect((await memory.retrieveConversationTurns('user-1', 'chat-1')).at(-1)?.content).toBe(
      'after the restore',
    )
    await source.close()
  })
})

describe('restoring into Postgres over existing tables', () => {
  it('needs replace: true, then replaces the tables in one transaction', async () => {
    const source = await schemas.create()
    await seedDatabase(source)
    const manager = createBackupManager(source, folderDestination(join(scratch, `folder-${++counter}`)))
    const backup = await manager.runNow()
    const target = await schemas.create()
    await seedDatabase(target, 3)
    const before = await readNotes(target)
    const refused = await manager.restore(backup.key, { into: target }).catch((e) => e)
    expect(isStorageError(refused, 'INVALID_ARGUMENT')).toBe(true)
    expect((refused as Error).message).toMatch(
      /already holds tables of the backup \(.*notes.*\); pass replace: true/,
    )
    expect(await readNotes(target)).toEqual(before)
    await manager.restore(backup.key, { into: target, replace: true })
    expect(await readEverything(target)).toEqual(await readEverything(source))
  })

  it('a restore that fails part-way (a damaged last table) leaves every old table and row', async () => {
    const source = await schemas.create()
    await seedDatabase(source)
    const folder = join(scratch, `folder-${++counter}`)
    const manager = createBackupManager(source, folderDestination(folder), { compression: 'none' })
    const backup = await manager.runNow()
    // Damage the export's last table end line, then re-sign the object so the checksums pass:
    // the tables before it import, and the failure comes after they are written.
    const dataPath = join(folder, backup.object)
    const lines = readFileSync(dataPath, 'utf8').split('\n')
    const lastEnd = lines.findLastIndex((line) => line.startsWith('{"end":'))
    lines[lastEnd] = (lines[lastEnd] as string).replace(/"rows":\d+/, '"rows":999999')
    const damaged = Buffer.from(lines.join('\n'))
    writeFileSync(dataPath, damaged)
    const manifestPath = join(folder, `${backup.key}.manifest.json`)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
    const sha256 = createHash('sha256').update(damaged).digest('hex')
    Object.assign(manifest, {
      size: damaged.length,
      sha256,
      contentSize: damaged.length,
      contentSha256: sha256,
    })
    writeFileSync(manifestPath, JSON.stringify(manifest))

    const target = await schemas.create()
    await seedDatabase(target, 3)
    const before = await readEverything(target)
    const error = await manager.restore(backup.key, { into: target, replace: true }).catch((e) => e)
    expect(isStorageError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toContain('The export is damaged')
    expect(await readEverything(target)).toEqual(before)
    expect(await target.get("SELECT to_regclass('engram_migrate_checkpoints')::text AS t")).toEqual({
      t: null,
    })
  })
})

describe('snapshots while writes continue', () => {
  /**
   * Writes pairs (one row in each of two tables per transaction) until stopped; returns pairs
   * written. It yields to the event loop between transactions, as a real writer would: on
   * SQLite each call can complete synchronously, and a loop of them would starve all I/O.
   */
  function writePairs(db: StorageAdapter) {
    let stop = false
    let pairs = 0
    const done = (async () => {
      while (!stop) {
        await db.transaction(async (tx) => {
          await tx.run('INSERT INTO left_side (note) VALUES (?)', ['x'])
          await tx.run('INSERT INTO right_side (note) VALUES (?)', ['y'])
        })
        pairs++
        await nextTurn()
      }
    })()
    return {
      async stop() {
        stop = true
        await done
        return pairs
      },
    }
  }

  async function counts(db: StorageAdapter): Promise<[number, number]> {
    const l = await db.get<{ n: number | string }>('SELECT count(*) AS n FROM left_side')
    const r = await db.get<{ n: number | string }>('SELECT count(*) AS n FROM right_side')
    return [Number(l?.n), Number(r?.n)]
  }

  it('a Postgres backup reads every table as of one moment (REPEATABLE READ)', async () => {
    const source = await schemas.create()
    await source.exec(
      'CREATE TABLE left_side (id BIGSERIAL PRIMARY KEY, note TEXT); CREATE TABLE right_side (id BIGSERIAL PRIMARY KEY, note TEXT)',
    )
    await source.exec("INSERT INTO left_side (note) SELECT 'seed' FROM generate_series(1, 20000)")
    await source.exec("INSERT INTO right_side (note) SELECT 'seed' FROM generate_series(1, 20000)")
    const manager = createBackupManager(source, folderDestination(join(scratch, `folder-${++counter}`)))
    const writer = writePairs(source)
    const backup = await manager.runNow()
    const pairs = await writer.stop()
    expect(pairs).toBeGreaterThan(0)
    const target = await schemas.create()
    await manager.restore(backup.key, { into: target })
    const [left, right] = await counts(target)
    expect(left).toBe(right)
    expect(left).toBeLessThan((await counts(source))[0])
  })

  it('a SQLite backup taken while another connection writes is one consistent image', async () => {
    const path = join(scratch, `busy-${++counter}.db`)
    const source = createSqliteNativeAdapter({ filename: path })
    await source.exec(
      'CREATE TABLE left_side (id INTEGER PRIMARY KEY, note TEXT); CREATE TABLE right_side (id INTEGER PRIMARY KEY, note TEXT)',
    )
    await source.exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO left_side (note) SELECT 'seed' FROM n",
    )
    await source.exec('INSERT INTO right_side (note) SELECT note FROM left_side')
    const other = createSqliteNativeAdapter({ filename: path })
    const manager = createBackupManager(source, folderDestination(join(scratch, `folder-${++counter}`)))
    const writer = writePairs(other)
    const backup = await manager.runNow()
    const pairs = await writer.stop()
    expect(pairs).toBeGreaterThan(0)
    const restoredPath = join(scratch, `busy-restored-${counter}.db`)
    await manager.restore(backup.key, { into: restoredPath })
    const restored = createSqliteNativeAdapter({ filename: restoredPath })
    const [left, right] = await counts(restored)
    expect(left).toBe(right)
    await Promise.all([restored.close(), other.close(), source.close()])
  })
})

describe('backups of chosen tables', () => {
  it('tables makes a logical backup of just those, restorable into a new SQLite file and into Postgres', async () => {
    const source = createSqliteNativeAdapter({ filename: join(scratch, `tables-${++counter}.db`) })
    await seedDatabase(source)
    const manager = createBackupManager(source, folderDestination(join(scratch, `folder-${++counter}`)), {
      tables: ['notes'],
    })
    const backup = await manager.runNow()
    expect(backup.format).toBe('engram-jsonl')
    const path = join(scratch, `tables-restored-${counter}.db`)
    const result = await manager.restore(backup.key, { into: path })
    expect(result.method).toBe('file')
    const restored = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
    expect(await readNotes(restored)).toEqual(await readNotes(source))
    expect(await restored.all("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")).toEqual([
      { name: 'notes' },
    ])
    await restored.close()
    const target = await schemas.create()
    await manager.restore(backup.key, { into: target })
    expect(await readNotes(target)).toEqual(await readNotes(source))
    await source.close()
  })
})
