import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { ConversationMemory, Memory } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engram, jsonOf, PG_URL, scratch } from './cli-env.js'

const env = scratch('engram_cli')
afterAll(() => env.cleanup())

describe('engram migrate, export, import, verify and stats, end to end', () => {
  let source: string

  beforeAll(async () => {
    source = env.file('memory.db')
    const memory = await Memory.open({ path: source })
    await memory.remember('Ada bakes sourdough on Sundays', { scope: 'user:ada' })
    await memory.close()
    const conversations = new ConversationMemory(createSqliteNativeAdapter({ filename: source }))
    await conversations.initialize()
    const turns = Array.from({ length: 20_000 }, (_, i) => ({
      userId: `user-${i % 11}`,
      conversationId: `chat-${i % 200}`,
      storageId: `t-${i}`,
      role: 'user' as const,
      content: `message ${i}`,
      timestamp: 1_700_000_000_000 + i,
    }))
    for (let i = 0; i < turns.length; i += 5000)
      await conversations.importBatch({ turns: turns.slice(i, i + 5000) })
    await conversations.close()
  })

  it('migrates SQLite to PostgreSQL with --verify --json, prints one result and exits 0', async () => {
    const { url } = await env.schema()
    const run = await engram(['migrate', source, url, '--verify', '--json', '--batch-size', '2000'])
    expect(run.code).toBe(0)
    const result = jsonOf(run)
    expect(result).toMatchObject({ verified: true, mismatches: [], dryRun: false, vectors: 1 })
    expect(result.rows).toBeGreaterThan(20_000)
    // Not a terminal and --json: no progress lines either.
    expect(run.stderr).toBe('')
  })

  it('shows plain progress lines and a summary without --json', async () => {
    const { url } = await env.schema()
    const run = await engram(['migrate', source, url, '--verify'])
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/ {2}copy engram_conversation_turns: 5,000\/20,000\n/)
    expect(run.stderr).toMatch(/ {2}copy engram_conversation_turns: 20,000\/20,000 \(.*\/s\)\n/)
    expect(run.stderr).toMatch(/ {2}verify engram_conversation_turns: 20,000\/20,000 \(/)
    expect(run.stdout).toMatch(/Migrated [\d,]+ rows and 1 vectors in .* \([\d,]+ rows\/s\)\./)
    expect(run.stdout).toContain('Verified: every table and collection matches the source.')
  })

  it('dry run leaves no target file and exits 0 with the plan', async () => {
    const target = env.file('never.db')
    const run = await engram(['migrate', source, target, '--dry-run', '--json'])
    expect(run.code).toBe(0)
    expect(jsonOf(run)).toMatchObject({ dryRun: true, problems: [], vectors: 1 })
    expect(existsSync(target)).toBe(false)
    expect(readdirSync(dirname(target))).toEqual([])
  })

  it('exits 1 with the reason when the target already holds rows, having written nothing', async () => {
    const { name, url } = await env.schema()
    await env.admin.exec(`CREATE TABLE ${name}.engram_migrations (component TEXT, version INTEGER, name TEXT, applied_at BIGINT,
      PRIMARY KEY (component, version)); INSERT INTO ${name}.engram_migrations VALUES ('memory', 1, 'someone else', 0)`)
    const again = await engram(['migrate', source, url, '--json'])
    expect(again.code).toBe(1)
    expect(jsonOf(again)).toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('engram_migrations already holds 1 rows'),
      },
    })
    const tables = await env.admin.all(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = ?',
      [name],
    )
    expect(tables).toEqual([{ table_name: 'engram_migrations' }])
  })

  it('resumes after the process is killed with SIGKILL, and verifies', async () => {
    const { name, url } = await env.schema()
    const killed = await engram(['migrate', source, url, '--batch-size', '500'], {
      killOn: /turns: 5,000\/20,000/,
    })
    expect(killed.signal).toBe('SIGKILL')
    const resumed = await engram([
      'migrate',
      source,
      url,
      '--resume',
      '--verify',
      '--json',
      '--batch-size',
      '500',
    ])
    expect(resumed.code).toBe(0)
    expect(jsonOf(resumed)).toMatchObject({ verified: true })
    const pg = createPostgresAdapter({ connectionString: PG_URL, searchPath: name })
    expect(await pg.get('SELECT COUNT(*) AS n FROM engram_conversation_turns')).toEqual({ n: 20_000 })
    await pg.close()
  })

  it('exports to .jsonl.gz, imports into a new SQLite file, and verify finds them equal', async () => {
    const file = env.file('backup.jsonl.gz')
    const exported = await engram(['export', source, '-o', file, '--json'])
    expect(exported.code).toBe(0)
    expect(jsonOf(exported)).toMatchObject({ output: file, rows: expect.any(Number) })
    const text = gunzipSync(readFileSync(file)).toString('utf8')
    expect(JSON.parse(text.slice(0, text.indexOf('\n')))).toMatchObject({
      format: 'engram-export',
      version: 1,
    })

    const copy = env.file('copy.db')
    const imported = await engram(['import', copy, file, '--json'])
    expect(imported.code).toBe(0)
    expect(jsonOf(imported)).toMatchObject({ rows: expect.any(Number) })
    const verified = await engram([
      'verify',
      source,
      copy,
      '--tables',
      'engram_conversation_turns,engram_conversations',
      '--json',
    ])
    expect(verified.code).toBe(0)
    expect(jsonOf(verified)).toMatchObject({ verified: true })
    const again = await engram(['import', copy, file, '--json'])
    expect(jsonOf(again)).toMatchObject({ rows: 0 })
  })

  it('exports to stdout and imports from stdin', async () => {
    const exported = await engram(['export', source, '--tables', 'engram_conversations'])
    expect(exported.code).toBe(0)
    const copy = env.file('piped.db')
    const imported = await engram(['import', copy, '-', '--json'], { input: Buffer.from(exported.stdout) })
    expect(imported.code).toBe(0)
    expect(jsonOf(imported)).toMatchObject({ tables: [{ name: 'engram_conversations', copied: 2200 }] })
  })

  it('verify exits 1 and names the table when the two differ', async () => {
    const copy = env.file('differs.db')
    expect((await engram(['migrate', source, copy])).code).toBe(0)
    const db = createSqliteNativeAdapter({ filename: copy })
    await db.run("UPDATE engram_conversation_turns SET content = 'changed' WHERE storage_id = 't-77'")
    await db.close()
    const run = await engram(['verify', source, copy])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(
      'engram_conversation_turns has 20000 rows on both sides, but their contents differ',
    )
  })

  it('stats lists tables, collections, schema versions and migrations', async () => {
    const { url } = await env.schema()
    await engram(['migrate', source, url])
    const run = await engram(['stats', url, '--json'])
    expect(run.code).toBe(0)
    const stats = jsonOf(run)
    expect(stats.tables).toContainEqual({ name: 'engram_conversation_turns', rows: 20_000 })
    expect(stats.collections).toEqual([{ name: 'memories', dimension: 384, metric: 'cosine', count: 1 }])
    expect(stats.schemaVersions).toContainEqual({
      component: 'conversation-memory',
      version: expect.any(Number),
    })
    expect((stats.migrations as unknown[]).length).toBeGreaterThan(0)
    const text = await engram(['stats', source])
    expect(text.stdout).toContain('table      engram_conversation_turns: 20,000 rows')
  })
})
