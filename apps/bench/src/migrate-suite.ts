import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConversationMemory, type ImportedTurn } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { Stats } from './measure.js'
import { timed } from './measure.js'
import { plannedTurns } from './memory-workload.js'
import { attempt, describeError, formatMs, printResultTable, type ResultRow } from './result-table.js'
import type { SuiteOptions } from './suite-options.js'

/** The memory workload's conversations: 10,000 × 50 turns (1,000 users), or a handful for `--smoke`. */
const FULL = { conversations: 10_000, turns: 50, users: 1000 }
const SMOKE = { conversations: 20, turns: 6, users: 5 }
/** Rows per batch for the raw copy and @framers/sql-storage-adapter: engram's default, which engram runs with. */
const BATCH = 5000
/** Longest @framers/sql-storage-adapter may take before it is stopped and reported as unfinished, in seconds. */
const FRAMERS_BUDGET_S = 600

const here = dirname(fileURLToPath(import.meta.url))
const cli = join(here, '..', '..', 'cli', 'dist', 'main.js')

/**
 * Moving an agent backend up a tier: the memory workload's conversation history (500,000 turns
 * in 10,000 conversations) from a SQLite file to PostgreSQL. engram runs as users run it, the
 * `engram migrate` command in its own process, with and without `--verify`; beside it a
 * hand-written copy on the raw drivers (the floor: same batches, no checkpoints, no
 * verification) and @framers/sql-storage-adapter's `migrateAdapters`, the library the seeds
 * offered for this. Each system gets a fresh schema; rows/s counts every row copied.
 */
export async function migrateSuite(options: SuiteOptions): Promise<void> {
  const sizes = options.smoke ? SMOKE : FULL
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-migrate-'))
  const admin = createPostgresAdapter({ connectionString: options.pgUrl, max: 2 })
  const schemas: string[] = []
  const freshSchema = async () => {
    const name = `engram_bench_mig_${process.pid}_${schemas.length}`
    await admin.exec(`DROP SCHEMA IF EXISTS ${name} CASCADE; CREATE SCHEMA ${name}`)
    schemas.push(name)
    const url = new URL(options.pgUrl)
    url.searchParams.set('options', `-c search_path=${name},public`)
    return { name, url: url.toString() }
  }
  try {
    const source = join(folder, 'memory.db')
    const built = await timed(() => buildSource(source, sizes))
    const rows = built.value
    const total = sizes.conversations * sizes.turns
    console.log(
      `\n## migrate: ${total.toLocaleString('en-US')} turns in ${sizes.conversations.toLocaleString('en-US')} conversations, SQLite → PostgreSQL (${rows.toLocaleString('en-US')} rows in all; source built in ${formatMs(built.ms)})`,
    )
    const results: ResultRow[] = []
    results.push(
      await attempt('engram migrate --verify', 'engram', async () =>
        engramRow(source, (await freshSchema()).url, rows, true),
      ),
    )
    results.push(
      await attempt('engram migrate (no verification)', 'engram', async () =>
        engramRow(source, (await freshSchema()).url, rows, false),
      ),
    )
    results.push(
      await attempt(
        'raw better-sqlite3 → pg (same batches, no checkpoints, no verification)',
        'raw',
        async () => rawRow(source, await freshSchema(), options.pgUrl, rows),
      ),
    )
    results.push(
      await attempt(
        '@framers/sql-storage-adapter 0.6.8 migrateAdapters({ verify: true })',
        'alternative',
        async () => framersRow(source, (await freshSchema()).url, rows),
      ),
    )
    printResultTable({
      suite: 'migrate',
      title: `Migrate ${total.toLocaleString('en-US')} turns SQLite → PostgreSQL (${rows.toLocaleString('en-US')} rows)`,
      unit: 'rows',
      rows: results,
      extraColumns: ['verified', 'resumable'],
      notes: [
        'One run per system; median and p99 are that run. engram runs as the `engram migrate` command in its own process (peak RSS is that process); the raw copy runs in the bench process.',
        '"verified": engram compares every table by row count and an order-independent checksum of every row; @framers/sql-storage-adapter compares row counts only.',
      ],
    })
  } finally {
    for (const name of schemas)
      await admin.exec(`DROP SCHEMA IF EXISTS ${name} CASCADE`).catch(() => undefined)
    await admin.close()
    rmSync(folder, { recursive: true, force: true })
  }
}

/** Writes the workload's turns into a new memory file; returns the rows a migration copies. */
async function buildSource(path: string, sizes: typeof FULL): Promise<number> {
  const db = createSqliteNativeAdapter({ filename: path })
  const memory = new ConversationMemory(db)
  await memory.initialize()
  let batch: ImportedTurn[] = []
  let i = 0
  for (const planned of plannedTurns(sizes.conversations, sizes.turns, sizes.users)) {
    const { turn } = planned
    // The workload gives every turn a timestamp; the import keeps it.
    batch.push({
      ...turn,
      timestamp: turn.timestamp ?? 0,
      userId: planned.userId,
      conversationId: planned.conversationId,
      storageId: `turn-${i++}`,
    })
    if (batch.length === 10_000) {
      await memory.importBatch({ turns: batch })
      batch = []
    }
  }
  if (batch.length > 0) await memory.importBatch({ turns: batch })
  const counted = await db.get<{ n: number }>(
    'SELECT (SELECT COUNT(*) FROM engram_conversations) + (SELECT COUNT(*) FROM engram_conversation_turns) + (SELECT COUNT(*) FROM engram_migrations) AS n',
  )
  await db.close()
  return counted?.n ?? 0
}

/** A single timed run as the table's figures. */
function single(
  ms: number,
  rows: number,
  memory: Pick<Stats, 'peakRss' | 'rssGrowth' | 'peakHeapGrowth'>,
): Stats {
  return { ops: 1, medianMs: ms, p99Ms: ms, throughput: ms > 0 ? (rows * 1000) / ms : 0, ...memory }
}

async function engramRow(
  source: string,
  url: string,
  rows: number,
  verify: boolean,
): Promise<Omit<ResultRow, 'system' | 'role'>> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build @engram/cli (pnpm bench builds everything)`)
  const args = [
    'migrate',
    source,
    url,
    '--json',
    '--batch-size',
    String(BATCH),
    ...(verify ? ['--verify'] : []),
  ]
  const run = await runProcess(process.execPath, [cli, ...args])
  if (run.code !== 0) throw new Error(`engram migrate exited with ${run.code}: ${run.stdout || run.stderr}`)
  const result = JSON.parse(run.stdout) as { rows: number; durationMs: number; verified: boolean }
  if (result.rows !== rows) throw new Error(`engram migrate copied ${result.rows} rows, expected ${rows}`)
  if (verify && !result.verified) throw new Error('engram migrate --verify found differences')
  return {
    stats: single(result.durationMs, rows, {
      peakRss: run.peakRss,
      rssGrowth: run.peakRss,
      peakHeapGrowth: 0,
    }),
    extra: { verified: verify ? 'counts + checksums' : 'no', resumable: 'yes' },
    backend: 'postgres',
  }
}

/**
 * The floor: better-sqlite3 reads 5,000-row pages by key, pg writes each as one JSONB document
 * in its own transaction, three in flight, into tables made as engram makes them (indexes and
 * foreign keys after the rows). Nothing is checkpointed or checked.
 */
async function rawRow(
  source: string,
  schema: { name: string },
  pgUrl: string,
  rows: number,
): Promise<Omit<ResultRow, 'system' | 'role'>> {
  const sqlite = new Database(source, { readonly: true })
  const pool = new pg.Pool({ connectionString: pgUrl, max: 4, options: `-c search_path=${schema.name}` })
  try {
    const run = await timed(async () => {
      await pool.query(`
        CREATE TABLE engram_migrations (component TEXT NOT NULL, version BIGINT NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version));
        CREATE TABLE engram_conversations (user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, agent_id TEXT, created_at BIGINT NOT NULL,
          last_activity BIGINT NOT NULL, title TEXT, summary TEXT, persona TEXT, PRIMARY KEY (user_id, conversation_id));
        CREATE TABLE engram_conversation_turns (seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, storage_id TEXT NOT NULL,
          user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT, created_at BIGINT NOT NULL,
          agent_id TEXT, model TEXT, prompt_tokens BIGINT, completion_tokens BIGINT, total_tokens BIGINT, tool_calls TEXT,
          tool_call_id TEXT, metadata TEXT, summary TEXT)`)
      let copied = 0
      for (const [table, key, types] of [
        ['engram_migrations', ['component', 'version'], ['text', 'bigint', 'text', 'bigint']],
        [
          'engram_conversations',
          ['user_id', 'conversation_id'],
          ['text', 'text', 'text', 'bigint', 'bigint', 'text', 'text', 'text'],
        ],
        [
          'engram_conversation_turns',
          ['seq'],
          [
            'bigint',
            'text',
            'text',
            'text',
            'text',
            'text',
            'bigint',
            'text',
            'text',
            'bigint',
            'bigint',
            'bigint',
            'text',
            'text',
            'text',
            'text',
          ],
        ],
      ] as const) {
        copied += await rawCopy(sqlite, pool, table, key, types)
      }
      await pool.query(`
        CREATE INDEX engram_conversations_by_activity ON engram_conversations (user_id, last_activity);
        CREATE UNIQUE INDEX engram_conversation_turns_storage_id ON engram_conversation_turns (user_id, storage_id);
        CREATE INDEX engram_conversation_turns_by_time ON engram_conversation_turns (user_id, conversation_id, created_at, seq);
        ALTER TABLE engram_conversation_turns ADD FOREIGN KEY (user_id, conversation_id)
          REFERENCES engram_conversations (user_id, conversation_id) ON DELETE CASCADE`)
      return copied
    })
    if (run.value !== rows) throw new Error(`the raw copy moved ${run.value} rows, expected ${rows}`)
    return {
      stats: single(run.ms, rows, run),
      extra: { verified: 'no', resumable: 'no' },
      backend: 'postgres',
    }
  } finally {
    sqlite.close()
    await pool.end()
  }
}

async function rawCopy(
  sqlite: Database.Database,
  pool: pg.Pool,
  table: string,
  key: readonly string[],
  types: readonly string[],
): Promise<number> {
  const columns = (
    sqlite.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(table) as Array<{ name: string }>
  ).map((c) => c.name)
  const order = key.join(', ')
  const first = sqlite
    .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${order} LIMIT ${BATCH}`)
    .raw()
  const next = sqlite
    .prepare(
      `SELECT ${columns.join(', ')} FROM ${table} WHERE (${order}) > (${key.map(() => '?').join(', ')}) ORDER BY ${order} LIMIT ${BATCH}`,
    )
    .raw()
  const insert = `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${types.map((t, i) => `(r->>${i})::${t}`).join(', ')} FROM jsonb_array_elements($1::jsonb) AS r`
  const keyAt = key.map((k) => columns.indexOf(k))
  let page = first.all() as unknown[][]
  let copied = 0
  const inFlight: Promise<unknown>[] = []
  while (page.length > 0) {
    const batch = page
    inFlight.push(
      (async () => {
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          await client.query(insert, [JSON.stringify(batch)])
          await client.query('COMMIT')
        } finally {
          client.release()
        }
      })(),
    )
    copied += batch.length
    const last = batch[batch.length - 1] as unknown[]
    page = next.all(...keyAt.map((i) => last[i])) as unknown[][]
    if (inFlight.length >= 3) await inFlight.shift()
  }
  await Promise.all(inFlight)
  return copied
}

/** @framers/sql-storage-adapter's own migration, in a child process so the run can be stopped at its budget. */
async function framersRow(
  source: string,
  url: string,
  rows: number,
): Promise<Omit<ResultRow, 'system' | 'role'>> {
  const script = `
    import { createDatabase, migrateAdapters } from '@framers/sql-storage-adapter'
    const from = await createDatabase({ file: ${JSON.stringify(source)}, priority: ['better-sqlite3'] })
    const to = await createDatabase({ postgres: { connectionString: ${JSON.stringify(url)} }, priority: ['postgres'] })
    const started = performance.now()
    const result = await migrateAdapters(from, to, { verify: true, batchSize: ${BATCH} })
    const ms = performance.now() - started
    const target = await to.get('SELECT (SELECT COUNT(*) FROM engram_conversations) + (SELECT COUNT(*) FROM engram_conversation_turns) + (SELECT COUNT(*) FROM engram_migrations) AS n')
    console.log(JSON.stringify({ ms, success: result.success, errors: result.errors, verification: result.verification?.passed, verificationErrors: result.verification?.errors, rows: Number(target?.n ?? 0) }))
    await from.close(); await to.close()`
  const run = await runProcess(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(here, '..'),
    budgetMs: FRAMERS_BUDGET_S * 1000,
  })
  if (run.timedOut) throw new Error(`did not finish within ${FRAMERS_BUDGET_S} s and was stopped`)
  if (run.code !== 0)
    throw new Error(
      `exited with ${run.code}: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' ')}`,
    )
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
    ms: number
    success: boolean
    errors?: unknown
    verification?: boolean
    verificationErrors?: string[]
    rows: number
  }
  if (!result.success)
    throw new Error(`reported failure: ${describeError(JSON.stringify(result.errors)).slice(0, 200)}`)
  if (result.rows !== rows) throw new Error(`copied ${result.rows} of ${rows} rows`)
  return {
    stats: single(result.ms, rows, { peakRss: run.peakRss, rssGrowth: run.peakRss, peakHeapGrowth: 0 }),
    extra: {
      verified:
        result.verification === undefined
          ? 'no'
          : result.verification
            ? 'row counts'
            : `row counts; it reported: ${String(result.verificationErrors?.[0] ?? 'a difference').slice(0, 80)}`,
      resumable: 'no',
    },
    backend: 'postgres',
  }
}

interface ProcessRun {
  code: number | null
  stdout: string
  stderr: string
  /** The child's peak resident set size (Linux VmHWM, read while it runs), in bytes; 0 elsewhere. */
  peakRss: number
  timedOut: boolean
}

/** Runs a child process to completion (or its budget), following its peak memory. */
function runProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; budgetMs?: number } = {},
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The commands' own defaults, not a test runner's NODE_ENV (which turns on engram's transaction guard).
      env: { ...process.env, NODE_ENV: 'production' },
    })
    let stdout = ''
    let stderr = ''
    let peakRss = 0
    let timedOut = false
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const poll = setInterval(() => {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]
        if (kb) peakRss = Math.max(peakRss, Number(kb) * 1024)
      } catch {
        // Not Linux, or the process has just exited.
      }
    }, 100)
    const budget = options.budgetMs
      ? setTimeout(() => {
          timedOut = true
          child.kill('SIGKILL')
        }, options.budgetMs)
      : undefined
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(poll)
      if (budget) clearTimeout(budget)
      resolve({ code, stdout, stderr, peakRss, timedOut })
    })
  })
}
