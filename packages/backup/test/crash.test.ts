import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BackupDestination,
  createBackupManager,
  folderDestination,
  s3Destination,
} from '../src/index.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'
import { readEverything, seedDatabase } from './helpers/sample-data.js'

// The children run the built package, as users do; `pnpm test` builds it first.
const here = dirname(fileURLToPath(import.meta.url))
const child = join(here, 'fixtures', 'backup-child.mjs')
const dist = join(here, '..', 'dist', 'index.js')
const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-crash-'))
let s3: S3rverHandle
let counter = 0
let dbPath: string

beforeAll(async () => {
  if (!existsSync(dist))
    throw new Error(`${dist} is missing: build first (npx tsc -p packages/backup/tsconfig.build.json)`)
  s3 = await startS3rver('engram-crash')
  dbPath = join(scratch, 'source.db')
  const db = createSqliteNativeAdapter({ filename: dbPath })
  await seedDatabase(db)
  // About 12 MB of incompressible blobs, so an upload spans several 5 MiB parts.
  await db.exec('CREATE TABLE ballast (id INTEGER PRIMARY KEY, data BLOB)')
  await db.transaction(async (tx) => {
    for (let i = 0; i < 192; i++) await tx.run('INSERT INTO ballast (data) VALUES (randomblob(65536))')
  })
  await db.close()
})
afterAll(async () => {
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

type Target = { folder: string } | { endpoint: string; bucket: string; prefix: string }

const targets: Array<[string, () => { target: Target; destination: BackupDestination }]> = [
  [
    'a folder',
    () => {
      const folder = join(scratch, `folder-${++counter}`)
      return { target: { folder }, destination: folderDestination(folder) }
    },
  ],
  [
    's3rver (multipart upload)',
    () => {
      const target = { endpoint: s3.endpoint, bucket: 'engram-crash', prefix: `run-${++counter}/` }
      return {
        target,
        destination: s3Destination({ ...target, credentials: S3RVER_CREDENTIALS }),
      }
    },
  ],
]

function runChild(config: object): ChildProcess {
  return spawn(process.execPath, [child, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
}

function firstLine(process: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    process.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString()
    })
    process.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0] as string)
    })
    process.once('exit', (code) => reject(new Error(`child exited with ${code} before a line: ${err}`)))
  })
}

describe.each(targets)('kill -9 during a backup to %s', (_name, make) => {
  it('leaves the earlier backups intact and lists no partial object as a backup', async () => {
    const { target, destination } = make()
    const db = createSqliteNativeAdapter({ filename: dbPath })
    const manager = createBackupManager(db, destination, { compression: 'none' })
    const earlier = await manager.runNow()

    const killed = runChild({ db: dbPath, destination: target, mode: 'freeze-mid-upload' })
    expect(await firstLine(killed)).toBe('uploading')
    const exited = new Promise((resolve) => killed.once('exit', (_code, signal) => resolve(signal)))
    killed.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')

    expect((await manager.list()).map((b) => b.key)).toEqual([earlier.key])
    const path = join(scratch, `restored-${++counter}.db`)
    await manager.restore(earlier.key, { into: path })
    const restored = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
    expect(await readEverything(restored)).toEqual(await readEverything(db))
    await restored.close()

    // The next backup works and is listed next to the earlier one.
    const next = await manager.runNow()
    expect((await manager.list()).map((b) => b.key)).toEqual([next.key, earlier.key])
    if ('folder' in target) {
      // The killed upload's temporary file is hidden from the listing (dot-prefixed) until pruned.
      const visible = readdirSync(target.folder).filter((name) => !name.startsWith('.'))
      expect(visible.sort()).toEqual(
        [earlier.object, `${earlier.key}.manifest.json`, next.object, `${next.key}.manifest.json`].sort(),
      )
    }
    await db.close()
  })
})

describe('timers', () => {
  it('a started manager never keeps its process alive', async () => {
    const { target } = targets[1]![1]()
    const run = promisify(execFile)
    const { stdout } = await run(
      process.execPath,
      [child, JSON.stringify({ db: dbPath, destination: target, mode: 'start-and-return' })],
      {
        timeout: 30_000,
      },
    )
    expect(stdout).toBe('started\n')
  })
})
