import { afterAll, describe, expect, it } from 'vitest'
import { engram, jsonOf, scratch } from './cli-env.js'

const env = scratch('engram_cli_doc')
afterAll(() => env.cleanup())

interface Check {
  name: string
  status: string
  detail: string
  fix?: string
}

const checksOf = (run: Awaited<ReturnType<typeof engram>>) => (jsonOf(run) as { checks: Check[] }).checks

describe('engram doctor', () => {
  it('reports Node, the installed packages, better-sqlite3, FTS5 and the sidecar, and exits 0', async () => {
    const run = await engram(['doctor', '--json'])
    expect(run.code).toBe(0)
    const checks = checksOf(run)
    expect(checks.find((c) => c.name === 'node')).toMatchObject({
      status: 'ok',
      detail: `Node.js ${process.version}`,
    })
    expect(checks.find((c) => c.name === '@engram/migrate')).toMatchObject({ status: 'ok' })
    expect(checks.find((c) => c.name === 'better-sqlite3')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^native code loads, SQLite 3\./),
    })
    expect(checks.find((c) => c.name === 'FTS5')).toMatchObject({ status: 'ok' })
    expect(checks.find((c) => c.name === 'HNSW sidecar')?.status).toMatch(/^(ok|missing)$/)
    const notInstalled = checks.filter((c) => c.status === 'missing' && c.name.startsWith('@engram/'))
    // The install line names the package manager that runs the tests (pnpm under `pnpm test`).
    for (const check of notInstalled)
      expect(check.fix).toMatch(new RegExp(`^(pnpm add|npm install|yarn add) ${check.name}`))
  })

  it('connects to PostgreSQL and reports pgvector’s version', async () => {
    const { url } = await env.schema()
    const run = await engram(['doctor', url, '--json'])
    expect(run.code).toBe(0)
    const checks = checksOf(run)
    expect(checks.find((c) => c.name === 'database')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^connected to PostgreSQL \d+/),
    })
    expect(checks.find((c) => c.name === 'pgvector')).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^version \d+\.\d+/),
    })
  })

  it('fails, exit 1, when the database cannot be reached, and says so in plain text', async () => {
    const run = await engram(['doctor', 'postgres://nobody@127.0.0.1:1/none'])
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/FAIL {2}database: .*127\.0\.0\.1:1/)
  })

  it('opens a SQLite file and reports its journal mode and full text', async () => {
    const path = env.file('doctor.db')
    const { createSqliteNativeAdapter } = await import('@engram/sqlite-native')
    const db = createSqliteNativeAdapter({ filename: path })
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await db.close()
    const run = await engram(['doctor', path, '--json'])
    expect(run.code).toBe(0)
    expect(checksOf(run).find((c) => c.name === 'database')?.detail).toMatch(
      /^sqlite-native opened .* \(SQLite 3\.\d+\.\d+, journal wal\)$/,
    )
  })
})
