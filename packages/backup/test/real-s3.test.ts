import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { S3Client } from '@aws-sdk/client-s3'
import { isStorageError } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, describe, expect, it } from 'vitest'
import { createBackupManager, s3Destination } from '../src/index.js'
import { readEverything, seedDatabase } from './helpers/sample-data.js'
import { flipByte, s3Tamper } from './helpers/tamper.js'

// Runs against a real S3, R2 or MinIO when ENGRAM_S3_ENDPOINT is set (see docs/backup.md):
// ENGRAM_S3_BUCKET (must exist), ENGRAM_S3_ACCESS_KEY_ID, ENGRAM_S3_SECRET_ACCESS_KEY,
// ENGRAM_S3_REGION (default us-east-1; R2 takes auto), ENGRAM_S3_PATH_STYLE=0 for
// virtual-hosted addressing. Everything is written under a fresh prefix and deleted after.
const endpoint = process.env.ENGRAM_S3_ENDPOINT
const bucket = process.env.ENGRAM_S3_BUCKET ?? ''
const credentials = {
  accessKeyId: process.env.ENGRAM_S3_ACCESS_KEY_ID ?? '',
  secretAccessKey: process.env.ENGRAM_S3_SECRET_ACCESS_KEY ?? '',
}
const region = process.env.ENGRAM_S3_REGION ?? 'us-east-1'
const forcePathStyle = process.env.ENGRAM_S3_PATH_STYLE !== '0'
const prefix = `engram-backup-test-${randomBytes(4).toString('hex')}/`
const scratch = mkdtempSync(join(tmpdir(), 'engram-real-s3-'))

const destination = () => s3Destination({ bucket, prefix, endpoint, credentials, region, forcePathStyle })

afterAll(async () => {
  if (endpoint) {
    const d = destination()
    const names: string[] = []
    for await (const object of d.list()) names.push(object.name)
    await d.delete(names)
    await d.close?.()
  }
  rmSync(scratch, { recursive: true, force: true })
})

describe.skipIf(!endpoint)(
  `a real S3-compatible service at ${endpoint ?? '(ENGRAM_S3_ENDPOINT not set)'}`,
  () => {
    it('backs up, lists, refuses a flipped byte, restores identical rows and keeps exactly maxBackups', async () => {
      const db = createSqliteNativeAdapter({ filename: join(scratch, 'source.db') })
      await seedDatabase(db)
      const manager = createBackupManager(db, destination(), { maxBackups: 2 })
      const taken = [await manager.runNow(), await manager.runNow(), await manager.runNow()]
      expect((await manager.list()).map((b) => b.key)).toEqual([taken[2]?.key, taken[1]?.key])

      const path = join(scratch, 'restored.db')
      await manager.restore('latest', { into: path })
      const restored = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
      expect(await readEverything(restored)).toEqual(await readEverything(db))
      await restored.close()

      const client = new S3Client({ region, endpoint, credentials, forcePathStyle })
      await s3Tamper(client, bucket, prefix).rewrite(taken[1]?.object as string, flipByte)
      const error = await manager
        .restore(taken[1]?.key as string, { into: join(scratch, 'never.db') })
        .catch((e) => e)
      expect(isStorageError(error, 'INVALID_ARGUMENT')).toBe(true)
      client.destroy()
      await db.close()
    })
  },
)
