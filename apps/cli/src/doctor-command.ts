import { createRequire } from 'node:module'
import { installCommand, type StorageAdapter } from '@engram/core'
import { type Command, say } from './command.js'
import { openDatabase } from './endpoints.js'

/** One finding of `engram doctor`. */
export interface DoctorCheck {
  /** What was checked. */
  readonly name: string
  /** `ok`, `warn` (works, with a limit), `fail` (broken), or `missing` (not installed, which is fine if unused). */
  readonly status: 'ok' | 'warn' | 'fail' | 'missing'
  /** What was found. */
  readonly detail: string
  /** What to do about it. */
  readonly fix?: string
}

const PACKAGES = [
  '@engram/core',
  '@engram/migrate',
  '@engram/memory',
  '@engram/sqlite-native',
  '@engram/sqljs',
  '@engram/postgres',
  '@engram/sqlite-vector',
  '@engram/hnsw-sidecar',
  '@engram/indexeddb',
  '@engram/capacitor',
  '@engram/qdrant',
  '@engram/pinecone',
  '@engram/supabase',
] as const

const BUILD_FIX = (addon: string) =>
  `pnpm 10 skips native builds until they are approved: run "pnpm approve-builds" (or add ${addon} to pnpm.onlyBuiltDependencies in package.json), then "pnpm rebuild ${addon}". With npm: "npm rebuild ${addon}". Building needs python3, make and a C++ compiler.`

/** `engram doctor [<db>]`: what works here, what does not, and how to fix it. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check Node, the installed drivers and their native code, FTS5, the HNSW sidecar, and a database',
  usage: 'engram doctor [<db>] [--json]',
  help: `Checks the Node.js version; which @engram packages are installed and whether the native code of
better-sqlite3 and hnswlib-node loads (with the fix when it does not); FTS5; the HNSW sidecar; and,
given a database, that it can be reached, and on Postgres whether pgvector is there and its version.

  --json              print one JSON result and nothing else on stdout

Exit code 1 when a check fails.`,
  positionals: [0, 1],
  options: {},
  async run({ positionals, json, io }) {
    const checks: DoctorCheck[] = [nodeCheck(), ...packageChecks()]
    checks.push(...(await sqliteChecks()), await sidecarCheck())
    const target = positionals[0]
    if (target !== undefined) checks.push(...(await databaseChecks(target)))
    const failed = checks.some((c) => c.status === 'fail')
    if (!json) {
      const mark = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', missing: ' -- ' }
      for (const check of checks) {
        say(io.stdout, `${mark[check.status]}  ${check.name}: ${check.detail}`)
        if (check.fix && check.status !== 'ok') say(io.stdout, `      fix: ${check.fix}`)
      }
      say(io.stdout, failed ? '\nSomething needs fixing (see FAIL above).' : '\nNothing is broken.')
    }
    return { code: failed ? 1 : 0, result: { ok: !failed, checks } }
  },
}

function nodeCheck(): DoctorCheck {
  const major = Number(process.versions.node.split('.')[0])
  return major >= 20
    ? { name: 'node', status: 'ok', detail: `Node.js ${process.version}` }
    : {
        name: 'node',
        status: 'fail',
        detail: `Node.js ${process.version}`,
        fix: 'engram needs Node.js 20 or later',
      }
}

function packageChecks(): DoctorCheck[] {
  const require = createRequire(import.meta.url)
  return PACKAGES.map((name) => {
    try {
      const { version } = require(`${name}/package.json`) as { version: string }
      return { name, status: 'ok', detail: `installed, version ${version}` }
    } catch {
      return {
        name,
        status: 'missing',
        detail: 'not installed',
        fix: `${installCommand(name)}, if you need it`,
      }
    }
  })
}

async function sqliteChecks(): Promise<DoctorCheck[]> {
  let createSqliteNativeAdapter: (config: { filename: string }) => StorageAdapter
  try {
    ;({ createSqliteNativeAdapter } = await import('@engram/sqlite-native'))
  } catch (error) {
    return [
      {
        name: 'better-sqlite3',
        status: 'missing',
        detail: `@engram/sqlite-native cannot be loaded: ${message(error)}`,
      },
    ]
  }
  let db: StorageAdapter
  try {
    db = createSqliteNativeAdapter({ filename: ':memory:' })
  } catch (error) {
    return [
      {
        name: 'better-sqlite3',
        status: 'fail',
        detail: `its native code does not load: ${message(error)}`,
        fix: BUILD_FIX('better-sqlite3'),
      },
    ]
  }
  try {
    const version = (await db.get<{ v: string }>('SELECT sqlite_version() AS v'))?.v
    const checks: DoctorCheck[] = [
      { name: 'better-sqlite3', status: 'ok', detail: `native code loads, SQLite ${version}` },
    ]
    try {
      await db.exec('CREATE VIRTUAL TABLE temp.engram_doctor USING fts5(body)')
      checks.push({
        name: 'FTS5',
        status: 'ok',
        detail: 'full-text search is available (hybrid recall works)',
      })
    } catch (error) {
      checks.push({
        name: 'FTS5',
        status: 'warn',
        detail: `not available: ${message(error)}`,
        fix: 'use a better-sqlite3 build with FTS5 (the default build has it)',
      })
    }
    return checks
  } finally {
    await db.close()
  }
}

async function sidecarCheck(): Promise<DoctorCheck> {
  let createHnswIndex: (options: { dimension: number; metric: 'cosine' }) => Promise<{
    add(items: Array<{ label: number; vector: Float32Array }>): Promise<void>
    search(vector: Float32Array, k: number): Promise<Array<{ label: number }>>
    close(): Promise<void>
  }>
  try {
    const name = '@engram/hnsw-sidecar'
    ;({ createHnswIndex } = await import(name))
  } catch {
    return {
      name: 'HNSW sidecar',
      status: 'missing',
      detail: 'not installed: embedded vector search stays exact past 1,000 vectors',
      fix: `${installCommand('@engram/hnsw-sidecar')} for approximate search on large SQLite collections`,
    }
  }
  try {
    const index = await createHnswIndex({ dimension: 2, metric: 'cosine' })
    await index.add([{ label: 7, vector: Float32Array.of(1, 0) }])
    const [hit] = await index.search(Float32Array.of(1, 0.1), 1)
    await index.close()
    if (hit?.label !== 7) throw new Error('a search did not find the one vector added')
    return { name: 'HNSW sidecar', status: 'ok', detail: 'hnswlib-node loads and searches' }
  } catch (error) {
    return {
      name: 'HNSW sidecar',
      status: 'fail',
      detail: `hnswlib-node does not work: ${message(error)}`,
      fix: BUILD_FIX('hnswlib-node'),
    }
  }
}

async function databaseChecks(target: string): Promise<DoctorCheck[]> {
  let db: Awaited<ReturnType<typeof openDatabase>>
  try {
    db = await openDatabase(target)
  } catch (error) {
    return [{ name: 'database', status: 'fail', detail: `cannot open ${target}: ${message(error)}` }]
  }
  try {
    const storage = db.storage
    if (!storage) {
      const store = await db.vectors()
      const names = await store.listCollections()
      return [
        {
          name: 'vector store',
          status: 'ok',
          detail: `${store.kind} reachable, ${names.length} collections`,
        },
      ]
    }
    if (storage.dialect === 'sqlite') {
      const version = (await storage.get<{ v: string }>('SELECT sqlite_version() AS v'))?.v
      const mode = (await storage.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode
      return [
        {
          name: 'database',
          status: 'ok',
          detail: `${storage.kind} opened ${target} (SQLite ${version}, journal ${mode})`,
        },
        storage.capabilities.fts === false
          ? {
              name: 'database full text',
              status: 'warn',
              detail: `${storage.kind} has no full-text search`,
              fix: 'hybrid recall needs FTS5 or FTS4',
            }
          : { name: 'database full text', status: 'ok', detail: `${storage.capabilities.fts}` },
      ]
    }
    const server = (await storage.get<{ v: string }>(`SELECT current_setting('server_version') AS v`))?.v
    const checks: DoctorCheck[] = [
      { name: 'database', status: 'ok', detail: `connected to PostgreSQL ${server}` },
    ]
    const installed = await storage.get<{ v: string }>(
      `SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`,
    )
    if (installed) {
      checks.push({ name: 'pgvector', status: 'ok', detail: `version ${installed.v}` })
    } else {
      const available = await storage.get<{ v: string }>(
        `SELECT default_version AS v FROM pg_available_extensions WHERE name = 'vector'`,
      )
      checks.push(
        available
          ? {
              name: 'pgvector',
              status: 'warn',
              detail: `version ${available.v} is on the server but not in this database`,
              fix: 'run CREATE EXTENSION vector (as a role allowed to), or see docs/postgres.md',
            }
          : {
              name: 'pgvector',
              status: 'warn',
              detail: 'not installed on the server: vector collections cannot live here',
              fix: `install pgvector for PostgreSQL ${server?.split('.')[0]} (Debian/Ubuntu: postgresql-${server?.split('.')[0]}-pgvector, or build it from source), then CREATE EXTENSION vector`,
            },
      )
    }
    return checks
  } catch (error) {
    return [{ name: 'database', status: 'fail', detail: `${target} does not answer: ${message(error)}` }]
  } finally {
    await db.close().catch(() => undefined)
  }
}

function message(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
}
