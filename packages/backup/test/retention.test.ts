import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BackupDestination,
  createBackupManager,
  folderDestination,
  s3Destination,
} from '../src/index.js'
import { EventLog } from './helpers/event-log.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { seedDatabase } from './helpers/sample-data.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-retention-'))
let s3: S3rverHandle
let counter = 0
let db: StorageAdapter

beforeAll(async () => {
  s3 = await startS3rver('engram-retention')
  db = createSqliteNativeAdapter({ filename: join(scratch, 'source.db') })
  await seedDatabase(db, 10)
})
afterAll(async () => {
  await db?.close()
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

// pageSize 2 makes every listing span several pages, so pagination is what finds the backups.
const destinations: Array<[string, () => BackupDestination]> = [
  ['a folder', () => folderDestination(join(scratch, `folder-${++counter}`))],
  [
    's3rver, two keys per listing page',
    () =>
      s3Destination({
        bucket: 'engram-retention',
        prefix: `run-${++counter}/`,
        endpoint: s3.endpoint,
        credentials: S3RVER_CREDENTIALS,
        pageSize: 2,
      }),
  ],
]

async function names(destination: BackupDestination): Promise<string[]> {
  const out: string[] = []
  for await (const object of destination.list()) out.push(object.name)
  return out.sort()
}

describe.each(destinations)('retention in %s', (_name, makeDestination) => {
  it('keeps exactly maxBackups, the newest, after each backup', async () => {
    const destination = makeDestination()
    const log = new EventLog()
    const manager = createBackupManager(db, destination, { maxBackups: 3, onEvent: log.onEvent })
    const taken = []
    for (let i = 0; i < 5; i++) taken.push(await manager.runNow())
    const newest = taken.slice(2).reverse()
    expect((await manager.list()).map((b) => b.key)).toEqual(newest.map((b) => b.key))
    expect(await names(destination)).toEqual(
      newest.flatMap((b) => [b.object, `${b.key}.manifest.json`]).sort(),
    )
    expect(log.of('pruned').map((p) => [p.deleted, p.kept])).toEqual([
      [[], 1],
      [[], 2],
      [[], 3],
      [[taken[0]?.key], 3],
      [[taken[1]?.key], 3],
    ])
  })

  it('prune({ keep }) keeps exactly that many, and removes leftovers older than every kept backup', async () => {
    const destination = makeDestination()
    const manager = createBackupManager(db, destination, { maxBackups: 10 })
    const taken = []
    for (let i = 0; i < 4; i++) taken.push(await manager.runNow())
    // What a backup killed long ago left: a data object without its manifest.
    await destination.put('engram-20200101T000000000Z-aaaaaa.sqlite.gz', new Uint8Array([1, 2, 3]), {})
    // An upload another process is still making: newer than the backups we keep.
    const inProgress = 'engram-29991231T235959999Z-bbbbbb.sqlite.gz'
    await destination.put(inProgress, new Uint8Array([4]), {})
    const result = await manager.prune({ keep: 2 })
    expect(result).toEqual({
      deleted: [taken[0]?.key, taken[1]?.key, 'engram-20200101T000000000Z-aaaaaa'],
      kept: 2,
    })
    expect(await names(destination)).toEqual(
      [...taken.slice(2).flatMap((b) => [b.object, `${b.key}.manifest.json`]), inProgress].sort(),
    )
    expect((await manager.prune({ keep: 0 })).kept).toBe(0)
    expect(await manager.list()).toEqual([])
  })

  it('leaves backups of another name in the same place alone', async () => {
    const destination = makeDestination()
    const app = createBackupManager(db, destination, { maxBackups: 1, name: 'app' })
    const audit = createBackupManager(db, destination, { maxBackups: 1, name: 'audit' })
    const a = await app.runNow()
    const b = await audit.runNow()
    await app.runNow()
    expect((await audit.list()).map((x) => x.key)).toEqual([b.key])
    expect((await app.list()).map((x) => x.key)).not.toContain(a.key)
    expect(await app.list()).toHaveLength(1)
  })
})
