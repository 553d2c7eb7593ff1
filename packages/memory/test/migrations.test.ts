import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import ts from 'typescript'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import { CONVERSATION_SCHEMA } from '../src/conversation-schema.js'
import { type Migration, type MigrationReport, migrateSchema } from '../src/migrate-schema.js'
import { PG_URL, postgresBackend, sqliteFileBackend, type TestBackend } from './storage-backends.js'

const here = dirname(fileURLToPath(import.meta.url))

/** The adapter, counting how often `transaction()` is called: only the locked path of `migrateSchema` calls it. */
function countingTransactions(adapter: StorageAdapter): { adapter: StorageAdapter; count: () => number } {
  let calls = 0
  const proxy = new Proxy(adapter, {
    get(target, key, receiver) {
      if (key === 'transaction') {
        return (fn: (tx: StorageAdapter) => Promise<unknown>) => {
          calls++
          return target.transaction(fn)
        }
      }
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { adapter: proxy, count: () => calls }
}

/** Holds the lock `migrateSchema` takes, until `release()` is called. */
async function holdMigrationLock(adapter: StorageAdapter): Promise<{ release: () => Promise<void> }> {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let locked!: () => void
  const isLocked = new Promise<void>((resolve) => (locked = resolve))
  const done = adapter.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      await tx.run('SELECT pg_advisory_xact_lock(hashtext(current_schema() || ?))', ['.engram_migrations'])
    } else {
      // sqlite-native opens with BEGIN IMMEDIATE; a write makes sure any SQLite driver holds the lock.
      await tx.exec('CREATE TABLE lock_holder (x INTEGER); DROP TABLE lock_holder')
    }
    locked()
    await released
  })
  await isLocked
  return {
    release: async () => {
      release()
      await done
    },
  }
}

function steps(...names: string[]): Migration[] {
  return names.map((name, i) => ({
    version: i + 1,
    name,
    async up(tx) {
      await tx.exec(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY)`)
    },
  }))
}

async function tableExists(db: StorageAdapter, name: string): Promise<boolean> {
  const sql =
    db.dialect === 'postgres'
      ? 'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?'
      : "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?"
  return Number((await db.get<{ n: number }>(sql, [name]))?.n) > 0
}

function describeMigrations(backend: TestBackend): void {
  describe(`migrations on ${backend.name}`, () => {
    afterEach(() => backend.closeAll())
    afterAll(() => backend.cleanup())

    it('applies each version once, in order, and records it', async () => {
      const db = (await backend.create()).open()
      const schema = { component: 'test-a', migrations: steps('mig_one', 'mig_two') }
      expect(await migrateSchema(db, schema)).toEqual({
        component: 'test-a',
        from: 0,
        to: 2,
        applied: [1, 2],
      })
      expect(await migrateSchema(db, schema)).toEqual({ component: 'test-a', from: 2, to: 2, applied: [] })
      const rows = await db.all('SELECT component, version, name FROM engram_migrations ORDER BY version')
      expect(rows).toEqual([
        { component: 'test-a', version: 1, name: 'mig_one' },
        { component: 'test-a', version: 2, name: 'mig_two' },
      ])
      expect(await tableExists(db, 'mig_two')).toBe(true)
    })

    it('applies only the new versions when the code adds a migration', async () => {
      const db = (await backend.create()).open()
      await migrateSchema(db, { component: 'test-a', migrations: steps('mig_one') })
      const report = await migrateSchema(db, { component: 'test-a', migrations: steps('mig_one', 'mig_two') })
      expect(report).toEqual({ component: 'test-a', from: 1, to: 2, applied: [2] })
    })

    it('keeps components apart in the shared table', async () => {
      const db = (await backend.create()).open()
      await migrateSchema(db, { component: 'test-a', migrations: steps('mig_a1', 'mig_a2') })
      const report = await migrateSchema(db, { component: 'test-b', migrations: steps('mig_b1') })
      expect(report).toEqual({ component: 'test-b', from: 0, to: 1, applied: [1] })
    })

    it('rolls a failed migration back completely, so the next run tries it again', async () => {
      const db = (await backend.create()).open()
      const failing: Migration[] = [
        ...steps('mig_one'),
        {
          version: 2,
          name: 'half done',
          async up(tx) {
            await tx.exec('CREATE TABLE mig_half (id INTEGER)')
            await tx.exec('CREATE TABLE mig_half (id INTEGER)')
          },
        },
      ]
      const error = await expectStorageError(
        migrateSchema(db, { component: 'test-a', migrations: failing }),
        'QUERY_FAILED',
      )
      expect(error.message).toMatch(/test-a v2 \(half done\) failed and was rolled back/)
      // v1 ran in the same transaction, so it is gone too: nothing is half applied.
      expect(await tableExists(db, 'mig_one')).toBe(false)
      expect(await tableExists(db, 'mig_half')).toBe(false)
      const report = await migrateSchema(db, {
        component: 'test-a',
        migrations: steps('mig_one', 'mig_half'),
      })
      expect(report.applied).toEqual([1, 2])
    })

    it('refuses a database whose schema is newer than the code', async () => {
      const db = (await backend.create()).open()
      await migrateSchema(db, { component: 'test-a', migrations: steps('mig_one', 'mig_two') })
      const error = await expectStorageError(
        migrateSchema(db, { component: 'test-a', migrations: steps('mig_one') }),
        'UNSUPPORTED',
      )
      expect(error.message).toMatch(/version 2, newer than .* \(1\); upgrade @engram\/memory/)
    })

    it('rejects migrations that are not numbered 1, 2, 3…', async () => {
      const db = (await backend.create()).open()
      const [one] = steps('mig_one')
      const gap = [one!, { ...one!, version: 3 }]
      const error = await expectStorageError(
        migrateSchema(db, { component: 'test-a', migrations: gap }),
        'INVALID_ARGUMENT',
      )
      expect(error.message).toMatch(/found 3 where 2 was expected/)
      expect(await tableExists(db, 'engram_migrations')).toBe(false)
    })

    it('creates lowercase snake_case tables with indexes for the hot queries', async () => {
      const db = (await backend.create()).open()
      await new ConversationMemory(db).initialize()
      const columns =
        db.dialect === 'postgres'
          ? await db.all<{ name: string }>(
              `SELECT column_name AS name FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name LIKE 'engram%'`,
            )
          : await db.all<{ name: string }>(
              `SELECT p.name FROM sqlite_master m, pragma_table_info(m.name) p
               WHERE m.type = 'table' AND m.name LIKE 'engram%'`,
            )
      expect(columns.length).toBeGreaterThan(20)
      for (const { name } of columns) expect(name).toMatch(/^[a-z][a-z0-9_]*$/)
      const indexes =
        db.dialect === 'postgres'
          ? await db.all<{ name: string; sql: string }>(
              "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'engram%'",
            )
          : await db.all<{ name: string; sql: string }>(
              "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'engram%'",
            )
      const byName = Object.fromEntries(indexes.map((index) => [index.name, index.sql.replace(/\s+/g, ' ')]))
      expect(byName.engram_conversation_turns_by_time).toMatch(
        /\(user_id, conversation_id, created_at, seq\)/,
      )
      expect(byName.engram_conversations_by_recent).toMatch(
        /\(user_id, last_activity DESC, conversation_id\)/,
      )
      expect(byName.engram_conversations_by_activity).toBeUndefined()
      if (db.dialect === 'sqlite') {
        // The planner must use them, not scan.
        const plan = async (sql: string) =>
          (await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ['u', 'c']))
            .map((r) => r.detail)
            .join('; ')
        expect(
          await plan(
            'SELECT * FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at, seq LIMIT 50',
          ),
        ).toMatch(/USING INDEX engram_conversation_turns_by_time/)
        // The list's whole order comes off the index: no sort for the ties.
        const list = await plan(
          'SELECT * FROM engram_conversations WHERE user_id = ? AND ? IS NOT NULL ORDER BY last_activity DESC, conversation_id ASC LIMIT 50',
        )
        expect(list).toMatch(/USING INDEX engram_conversations_by_recent/)
        expect(list).not.toMatch(/TEMP B-TREE/)
      }
    })

    it('applies the schema exactly once when several adapters initialize at the same moment', async () => {
      const database = await backend.create()
      // Short busy timeouts: in one process a waiting SQLite writer blocks the thread, so it must give up and retry.
      const racers = Array.from({ length: 3 }, () => countingTransactions(database.open({ busyTimeout: 50 })))
      const holder = backend.dialect === 'postgres' ? await holdMigrationLock(database.open()) : undefined
      const running = racers.map(({ adapter }) => migrateSchema(adapter, CONVERSATION_SCHEMA))
      // On Postgres every racer reaches the lock while it is held, so they truly contend for it.
      if (holder) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        await holder.release()
      }
      const reports = await Promise.all(running)
      expect(reports.map((r) => r.applied).sort()).toEqual([[], [], [1, 2]])
      // Every racer went past the unlocked check and re-read the version under the lock.
      for (const racer of racers) expect(racer.count()).toBeGreaterThanOrEqual(1)
      expect(reports.filter((r) => r.from === 2)).toHaveLength(2)
      const rows = await racers[0]!.adapter.all('SELECT version FROM engram_migrations ORDER BY version')
      expect(rows).toEqual([{ version: 1 }, { version: 2 }])
    })
  })
}

describeMigrations(sqliteFileBackend())
describeMigrations(postgresBackend())

// Real processes: the compiled runner in child Node processes, started together, racing for the lock.
describe('migrations racing in separate processes', () => {
  const work = join(here, `.race-${process.pid}-${Math.random().toString(16).slice(2, 8)}`)
  const children: ChildProcess[] = []
  const sqlite = sqliteFileBackend()
  const postgres = postgresBackend()

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
    await sqlite.closeAll()
    await postgres.closeAll()
  })
  afterAll(async () => {
    rmSync(work, { recursive: true, force: true })
    await sqlite.cleanup()
    await postgres.cleanup()
  })

  /** Compiles the runner and the schema next to a child script; @engram packages resolve from packages/memory. */
  function compileChild(): string {
    mkdirSync(work, { recursive: true })
    for (const file of ['migrate-schema', 'conversation-schema']) {
      const source = readFileSync(join(here, '..', 'src', `${file}.ts`), 'utf8')
      const output = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      })
      writeFileSync(join(work, `${file}.js`), output.outputText)
    }
    const child = join(work, 'child.mjs')
    writeFileSync(
      child,
      `import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { CONVERSATION_SCHEMA } from './conversation-schema.js'
import { migrateSchema } from './migrate-schema.js'

const [kind, target, url] = process.argv.slice(2)
const adapter = kind === 'sqlite'
  ? createSqliteNativeAdapter({ filename: target, busyTimeout: 10000 })
  : createPostgresAdapter({ connectionString: url, searchPath: target, max: 2 })
let transactions = 0
const counting = new Proxy(adapter, {
  get(t, key) {
    if (key === 'transaction') return (fn) => { transactions++; return t.transaction(fn) }
    const value = Reflect.get(t, key)
    return typeof value === 'function' ? value.bind(t) : value
  },
})
process.stdout.write('ready\\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const report = await migrateSchema(counting, CONVERSATION_SCHEMA)
process.stdout.write(JSON.stringify({ ...report, transactions }) + '\\n')
await adapter.close()
process.exit(0)
`,
    )
    return child
  }

  function start(
    script: string,
    args: string[],
  ): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    children.push(child)
    let out = ''
    let err = ''
    let onReady!: () => void
    const ready = new Promise<void>((resolve) => (onReady = resolve))
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.startsWith('ready\n')) onReady()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString()
    })
    const result = new Promise<string>((resolve, reject) => {
      child.on('exit', (code) => {
        if (code === 0) resolve(out.slice('ready\n'.length).trim())
        else reject(new Error(`child exited with ${code}: ${err}`))
      })
    })
    result.catch(() => undefined)
    return { child, ready, result }
  }

  for (const backend of [sqlite, postgres]) {
    it(`applies the schema exactly once when three processes migrate ${backend.name} together`, async () => {
      const script = compileChild()
      const database = await backend.create()
      const holderAdapter = database.open()
      const args =
        backend.dialect === 'sqlite'
          ? ['sqlite', database.target as string]
          : ['postgres', (database.target as { searchPath: string }).searchPath, PG_URL]
      const racers = Array.from({ length: 3 }, () => start(script, args))
      await Promise.all(racers.map((r) => r.ready))
      // Hold the lock while all three start, so each finds the schema missing and must wait its turn.
      const holder = await holdMigrationLock(holderAdapter)
      for (const racer of racers) racer.child.stdin?.write('go\n')
      await new Promise((resolve) => setTimeout(resolve, 400))
      await holder.release()
      const reports = (await Promise.all(racers.map((r) => r.result))).map(
        (line) => JSON.parse(line) as MigrationReport & { transactions: number },
      )
      expect(reports.map((r) => r.applied).sort()).toEqual([[], [], [1, 2]])
      for (const report of reports) expect(report.transactions).toBeGreaterThanOrEqual(1)
      expect(
        await holderAdapter.all('SELECT component, version FROM engram_migrations ORDER BY version'),
      ).toEqual([
        { component: 'conversation-memory', version: 1 },
        { component: 'conversation-memory', version: 2 },
      ])
      // And the schema works.
      const memory = new ConversationMemory(holderAdapter)
      await memory.storeConversationTurn('u', 'c', { role: 'user', content: 'after the race' })
      expect(await memory.retrieveConversationTurns('u', 'c')).toHaveLength(1)
    })
  }
})
