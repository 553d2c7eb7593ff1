import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// The S3 server, the sample data and the tampering come from @engram/backup's own tests.
import { PG_URL, postgresSchemas } from '../../../packages/backup/test/helpers/postgres-schemas.js'
import {
  S3RVER_CREDENTIALS,
  type S3rverHandle,
  startS3rver,
} from '../../../packages/backup/test/helpers/s3rver.js'
import { readEverything, seedDatabase } from '../../../packages/backup/test/helpers/sample-data.js'
import { flipByte } from '../../../packages/backup/test/helpers/tamper.js'
import { runCli } from '../src/run-cli.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-backup-cli-'))
const schemas = postgresSchemas()
let s3: S3rverHandle
let source: string
let counter = 0

beforeAll(async () => {
  s3 = await startS3rver('cli-backups')
  source = join(scratch, 'source.db')
  const db = createSqliteNativeAdapter({ filename: source })
  await seedDatabase(db, 40)
  await db.close()
})
afterAll(async () => {
  await schemas.cleanup()
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

/** Runs `engram <args>` in this process and collects what it printed. */
async function engram(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  const code = await runCli(args, { io: { stdout, stderr, stdin: new PassThrough() } })
  return { code, stdout: out, stderr: err }
}

function json(run: { stdout: string }): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n')
  expect(lines).toHaveLength(1)
  return JSON.parse(lines[0] as string) as Record<string, unknown>
}

async function rowsOf(path: string) {
  const db = createSqliteNativeAdapter({ filename: path, fileMustExist: true })
  try {
    return await readEverything(db)
  } finally {
    await db.close()
  }
}

describe('engram backup with a folder', () => {
  it('create, list, restore and prune, with --json and exit codes', async () => {
    const folder = join(scratch, `folder-${++counter}`)
    const to = pathToFileURL(folder).href
    const created = await engram('backup', 'create', source, '--to', to, '--json')
    expect(created.code, created.stderr).toBe(0)
    const backup = json(created).backup as { key: string; compression: string }
    expect(backup.compression).toBe('gzip')
    const second = await engram('backup', 'create', source, '--to', folder, '--no-gzip')
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(/^Backed up to file:\/\/.*\(sqlite-image, none, [\d,]+ bytes\)/)
    expect(second.stderr).toContain('upload (bytes)')

    const listed = await engram('backup', 'list', '--from', to, '--json')
    expect((json(listed).backups as Array<{ key: string }>).map((b) => b.key)).toHaveLength(2)
    expect((await engram('backup', 'list', '--to', folder)).stdout).toContain(backup.key)

    const path = join(scratch, `restored-${++counter}.db`)
    const restored = await engram('backup', 'restore', backup.key, path, '--to', to, '--json')
    expect(restored.code, restored.stderr).toBe(0)
    expect(json(restored)).toMatchObject({ ok: true, key: backup.key, method: 'file', path })
    expect(await rowsOf(path)).toEqual(await rowsOf(source))

    const again = await engram('backup', 'restore', 'latest', path, '--to', to)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('pass replace: true (--replace)')
    expect((await engram('backup', 'restore', 'latest', path, '--to', to, '--replace')).code).toBe(0)

    const pruned = await engram('backup', 'prune', '--keep', '1', '--to', to, '--json')
    expect(json(pruned)).toMatchObject({ kept: 1 })
    expect(readdirSync(folder)).toHaveLength(2)
  })

  it('refuses a corrupt backup with exit code 1 and the error in the JSON result', async () => {
    const folder = join(scratch, `folder-${++counter}`)
    const created = json(await engram('backup', 'create', source, '--to', folder, '--json'))
    const backup = created.backup as { key: string; object: string }
    const data = join(folder, backup.object)
    const { readFileSync } = await import('node:fs')
    writeFileSync(data, flipByte(new Uint8Array(readFileSync(data))))
    const run = await engram(
      'backup',
      'restore',
      backup.key,
      join(scratch, `never-${++counter}.db`),
      '--to',
      folder,
      '--json',
    )
    expect(run.code).toBe(1)
    expect(json(run)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } })
    expect(String((json(run).error as { message: string }).message)).toContain('is corrupt')
  })

  it('backs up a postgres:// database as engram-jsonl and restores it to a SQLite path', async () => {
    const pg = await schemas.create()
    await seedDatabase(pg, 15)
    const schema = (await pg.get<{ s: string }>('SELECT current_schema() AS s'))?.s as string
    const url = new URL(PG_URL)
    url.searchParams.set('options', `-c search_path=${schema}`)
    const folder = join(scratch, `folder-${++counter}`)
    const created = await engram('backup', 'create', url.toString(), '--to', folder, '--json')
    expect(created.code, created.stdout + created.stderr).toBe(0)
    expect(json(created).backup).toMatchObject({ format: 'engram-jsonl', compression: 'gzip' })
    const path = join(scratch, `from-pg-${counter}.db`)
    const restored = await engram('backup', 'restore', 'latest', path, '--to', folder, '--json')
    expect(restored.code, restored.stdout + restored.stderr).toBe(0)
    expect(await rowsOf(path)).toEqual(await readEverything(pg))
  })

  it('restores into a postgres:// database', async () => {
    const folder = join(scratch, `folder-${++counter}`)
    expect((await engram('backup', 'create', source, '--to', folder)).code).toBe(0)
    const target = await schemas.create()
    const schema = (await target.get<{ s: string }>('SELECT current_schema() AS s'))?.s as string
    const url = new URL(PG_URL)
    url.searchParams.set('options', `-c search_path=${schema}`)
    const run = await engram('backup', 'restore', 'latest', url.toString(), '--to', folder, '--json')
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(json(run)).toMatchObject({ method: 'tables' })
    const db = createSqliteNativeAdapter({ filename: source, fileMustExist: true })
    expect(await readEverything(target)).toEqual(await readEverything(db))
    await db.close()
  })
})

describe('engram backup with S3', () => {
  it('create --to s3://bucket/prefix --endpoint, then list and restore, with credentials from the environment', async () => {
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey
    const to = `s3://cli-backups/team/app-${++counter}`
    const created = await engram(
      'backup',
      'create',
      source,
      '--to',
      to,
      '--endpoint',
      s3.endpoint,
      '--gzip',
      '--json',
    )
    expect(created.code, created.stdout + created.stderr).toBe(0)
    expect(json(created).destination).toBe(`s3://cli-backups/team/app-${counter}/`)
    const listed = json(await engram('backup', 'list', '--to', to, '--endpoint', s3.endpoint, '--json'))
    expect(listed.backups).toHaveLength(1)
    const path = join(scratch, `from-s3-${counter}.db`)
    const restored = await engram('backup', 'restore', 'latest', path, '--to', to, '--endpoint', s3.endpoint)
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toContain('checksums verified')
    expect(await rowsOf(path)).toEqual(await rowsOf(source))
  })
})

describe('engram backup usage errors exit 2 before touching anything', () => {
  it.each([
    [['backup', 'frobnicate'], 'unknown backup command "frobnicate"'],
    [['backup', 'list'], 'needs --to'],
    [['backup', 'list', '--to', 'x', '--replace'], 'backup list does not take --replace'],
    [['backup', 'create', 'a.db', '--to', 'x', '--gzip', '--no-gzip'], '--gzip and --no-gzip contradict'],
    [['backup', 'prune', '--to', 'x'], 'prune needs --keep N'],
    [['backup', 'prune', '--to', 'x', '--keep', 'all'], '--keep takes a whole number'],
    [['backup', 'restore', 'latest', '--to', 'x'], 'backup restore takes 2 arguments, got 1'],
    [['backup', 'list', '--to', 'ftp://host/x'], '--to takes s3://bucket/prefix'],
  ])('engram %j', async (args, message) => {
    const run = await engram(...args)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
  })
})
