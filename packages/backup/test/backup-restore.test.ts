import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIndexedDbAdapter, LocalLockManager } from '@engram/indexeddb'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqlJsAdapter } from '@engram/sqljs'
import { IDBFactory } from 'fake-indexeddb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BackupDestination,
  createBackupManager,
  folderDestination,
  s3Destination,
} from '../src/index.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { readEverything, seedDatabase } from './helpers/sample-data.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-test-'))
let s3: S3rverHandle
let buckets = 0

beforeAll(async () => {
  s3 = await startS3rver('engram-backups')
})
afterAll(async () => {
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

/** Each destination the backups are tested against; every test gets its own folder or prefix. */
const destinations: Array<[string, () => BackupDestination]> = [
  ['a folder', () => folderDestination(join(scratch, `folder-${++buckets}`))],
  [
    's3rver through @aws-sdk/client-s3',
    () =>
      s3Destination({
        bucket: 'engram-backups',
        prefix: `run-${++buckets}`,
        endpoint: s3.endpoint,
        credentials: S3RVER_CREDENTIALS,
      }),
  ],
]

describe.each(destinations)('backup and restore through %s', (_name, makeDestination) => {
  it.each(['gzip', 'none'] as const)(
    'a %s backup of a sqlite-native file restores to a new path with identical rows',
    async (compression) => {
      const source = createSqliteNativeAdapter({ filename: join(scratch, `native-${++buckets}.db`) })
      await seedDatabase(source)
      const manager = createBackupManager(source, makeDestination(), { compression })
      const backup = await manager.runNow()
      expect(backup).toMatchObject({ format: 'sqlite-image', compression })
      expect((await manager.list()).map((b) => b.key)).toEqual([backup.key])

      const path = join(scratch, `restored-${++buckets}.db`)
      const result = await manager.restore(backup.key, { into: path })
      expect(result).toMatchObject({ key: backup.key, method: 'file', path })
      const restored = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
      expect(await readEverything(restored)).toEqual(await readEverything(source))
      await restored.close()
      await source.close()
    },
  )

  it('a gzip backup of sql.js restores into another sql.js adapter, image and all', async () => {
    const source = await createSqlJsAdapter()
    await seedDatabase(source)
    const manager = createBackupManager(source, makeDestination())
    const backup = await manager.runNow()
    const target = await createSqlJsAdapter()
    const result = await manager.restore(backup.key, { into: target })
    expect(result.method).toBe('image')
    expect(await readEverything(target)).toEqual(await readEverything(source))
    await Promise.all([source.close(), target.close()])
  })

  it('a gzip backup of IndexedDB restores into a fresh IndexedDB database', async () => {
    const options = { indexedDB: new IDBFactory(), locks: new LocalLockManager() }
    const source = await createIndexedDbAdapter({ name: 'source', ...options })
    await seedDatabase(source)
    const manager = createBackupManager(source, makeDestination())
    const backup = await manager.runNow()
    const target = await createIndexedDbAdapter({ name: 'target', ...options })
    await manager.restore(backup.key, { into: target })
    expect(await readEverything(target)).toEqual(await readEverything(source))
    await target.close()
    // The restored image is in IndexedDB itself, not only in the adapter's memory.
    const reopened = await createIndexedDbAdapter({ name: 'target', ...options })
    expect(await readEverything(reopened)).toEqual(await readEverything(source))
    await Promise.all([source.close(), reopened.close()])
  })
})
