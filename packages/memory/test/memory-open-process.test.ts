import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { compileMemorySource } from './compiled-memory.js'
import { PG_URL } from './storage-backends.js'

const CHILD = fileURLToPath(new URL('./fixtures/open-child.mjs', import.meta.url))
const source = compileMemorySource()
const folder = mkdtempSync(join(tmpdir(), 'engram-memory-open-'))
const schemas: string[] = []
let admin: StorageAdapter | undefined
let files = 0

afterAll(async () => {
  source.remove()
  rmSync(folder, { recursive: true, force: true })
  if (admin) {
    for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  }
})

/** A Postgres URL whose search path is a fresh schema of its own (then public, for pgvector's types). */
async function postgresUrl(): Promise<string> {
  admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  const schema = `engram_open_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
  await admin.exec(`CREATE SCHEMA ${schema}`)
  schemas.push(schema)
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema},public`)
  return url.toString()
}

interface ChildRun {
  events: Array<Record<string, unknown>>
  stderr: string
  code: number | null
  /** Milliseconds from the `closed` event to the process's exit. */
  exitAfterClose: number | undefined
}

/** Runs the child to its natural exit, with `env` added to the environment. */
function runChild(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<ChildRun> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify({ ...config, source: source.folder })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  const events: Array<Record<string, unknown>> = []
  let stderr = ''
  let buffered = ''
  let closedAt: number | undefined
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const event = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>
      buffered = buffered.slice(end + 1)
      if (event.event === 'closed') closedAt = performance.now()
      events.push(event)
    }
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => {
      const exitAfterClose = closedAt === undefined ? undefined : performance.now() - closedAt
      resolve({ events, stderr, code, exitAfterClose })
    })
  })
}

describe('a process that opens memory from a URL', () => {
  it('exits within a second of Memory#close() on Postgres: the pool it opened is closed', async () => {
    const run = await runChild({ scenario: 'memory', storage: await postgresUrl() })
    expect(run.events.at(-1), run.stderr).toMatchObject({
      event: 'closed',
      kind: 'postgres',
      recalled: 'the process should exit once this memory is closed',
    })
    expect(run.code).toBe(0)
    expect(run.exitAfterClose).toBeLessThan(1000)
  })

  it('exits within a second of ConversationMemory#close() on Postgres', async () => {
    const run = await runChild({ scenario: 'conversations', storage: await postgresUrl() })
    expect(run.events.at(-1), run.stderr).toMatchObject({ event: 'closed', kind: 'postgres', turns: 1 })
    expect(run.code).toBe(0)
    expect(run.exitAfterClose).toBeLessThan(1000)
  })

  it('exits within a second of Memory#close() on a SQLite path', async () => {
    const run = await runChild({ scenario: 'memory', storage: join(folder, `exit-${++files}.db`) })
    expect(run.events.at(-1), run.stderr).toMatchObject({ event: 'closed', kind: 'sqlite-native' })
    expect(run.exitAfterClose).toBeLessThan(1000)
  })
})

describe('Memory.open when a driver it needs is not installed', () => {
  async function failure(options: Record<string, unknown>, hide: string[], agent: string) {
    const run = await runChild(
      { scenario: 'open-fails', options, hide },
      { npm_config_user_agent: `${agent} node/${process.version} linux x64` },
    )
    const event = run.events.at(-1)
    expect(event, run.stderr).toMatchObject({ event: 'failed', code: 'DRIVER_NOT_INSTALLED' })
    return String(event?.message)
  }

  it('names the SQLite driver to install, with the package manager in use', async () => {
    const hide = ['@engram/sqlite-native', '@engram/sqljs']
    const path = join(folder, `missing-${++files}.db`)
    const npm = await failure({ path }, hide, 'npm/10.9.2')
    expect(npm).toContain('"npm install @engram/sqlite-native"')
    expect(npm).toContain(path)
    expect(npm).not.toContain('pnpm add')
    expect(await failure({ path }, hide, 'pnpm/10.34.9')).toContain('"pnpm add @engram/sqlite-native"')
  })

  it('names @engram/postgres for a postgres:// URL', async () => {
    const message = await failure({ storage: await postgresUrl() }, ['@engram/postgres'], 'npm/10.9.2')
    expect(message).toContain('npm install @engram/postgres')
  })
})

describe('the HNSW warning when @engram/hnsw-sidecar is not installed', () => {
  const hide = ['@engram/hnsw-sidecar']

  it('comes once, when a collection reaches exactBelow records, and says how to install the sidecar', async () => {
    const path = join(folder, `warn-${++files}.db`)
    const run = await runChild(
      { scenario: 'warnings', hook: true, paths: [path], exactBelow: 3, remember: 6, hide },
      { npm_config_user_agent: 'npm/10.9.2 node/v20 linux x64' },
    )
    const order = run.events.map((e) => (e.event === 'warning' ? 'warning' : `${e.event} ${e.count ?? ''}`))
    expect(order, run.stderr).toEqual([
      'remembered 1',
      'remembered 2',
      'warning',
      'remembered 3',
      'remembered 4',
      'remembered 5',
      'remembered 6',
      'closed ',
    ])
    const warning = run.events.find((e) => e.event === 'warning')
    expect(warning?.kind).toBe('hnsw-unavailable')
    expect(warning?.message).toContain('exact scan of 3 records')
    expect(warning?.message).toContain('npm install @engram/hnsw-sidecar')
  })

  it('is printed by default once per process, however many memories reach it', async () => {
    const paths = [join(folder, `warn-${++files}.db`), join(folder, `warn-${++files}.db`)]
    const run = await runChild({ scenario: 'warnings', paths, exactBelow: 2, remember: 4, hide })
    expect(run.events.at(-1), run.stderr).toEqual({ event: 'closed' })
    const lines = run.stderr.split('\n').filter((line) => line.includes('[@engram/memory]'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('@engram/hnsw-sidecar is not installed')
  })

  it('is not given when the sidecar is installed', async () => {
    const run = await runChild({
      scenario: 'warnings',
      hook: true,
      paths: [join(folder, `warn-${++files}.db`)],
      exactBelow: 2,
      remember: 4,
    })
    expect(run.events.at(-1), run.stderr).toEqual({ event: 'closed' })
    expect(run.events.filter((e) => e.event === 'warning')).toEqual([])
    expect(run.stderr).not.toContain('[@engram/memory]')
  })
})
