import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import * as framers from '@framers/sql-storage-adapter'
import Database from 'better-sqlite3'
import { type Generated, Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { type MeasureOptions, measureCases, type TimedCase } from './measure.js'
import { describeError, printResultTable, type ResultRow, type Role } from './result-table.js'
import type { SuiteOptions } from './suite-options.js'

/**
 * The part of @framers/sql-storage-adapter's API used here. Its published typings re-export with
 * extensionless paths, which NodeNext resolution cannot follow, so they are described here
 * from its README and dist/core/contracts/index.d.ts.
 */
interface FramersAdapter {
  readonly kind: string
  exec(script: string): Promise<void>
  run(statement: string, parameters?: unknown[]): Promise<unknown>
  get<T>(statement: string, parameters?: unknown[]): Promise<T | null>
  all<T>(statement: string, parameters?: unknown[]): Promise<T[]>
  transaction<T>(fn: (trx: FramersAdapter) => Promise<T>): Promise<T>
  close(): Promise<void>
}
const createDatabase = (
  framers as unknown as {
    createDatabase: (options: Record<string, unknown>) => Promise<FramersAdapter>
  }
).createDatabase

/** The table every system reads and writes; `id` is the primary key. */
interface KvTable {
  id: Generated<number>
  name: string
  score: number
}
interface KyselySchema {
  kv: KvTable
}

/** The four operations, each written the way its system's docs show. */
interface SqlContender {
  system: string
  role: Role
  pointRead: (id: number) => unknown
  rangeRead: (from: number) => unknown
  insertBatch: (rows: number) => unknown
  /** One read-then-write transaction, started without waiting for the others. */
  transaction: (id: number) => unknown
  close: () => Promise<void>
}

const ROWS = 10_000
const RANGE = 20
const CONCURRENT = 8

/**
 * Point read by primary key, a 20-row range read, a 1,000-row insert in one transaction (one
 * statement per row), and 8 concurrent read-modify-write transactions, on SQLite (raw
 * better-sqlite3, engram, @framers/sql-storage-adapter, Kysely) and on PostgreSQL (raw pg, the
 * same three). All systems see the same table, the same rows and the same keys in the same run.
 */
export async function sqlSuite(options: SuiteOptions): Promise<void> {
  const batch = options.smoke ? 50 : 1000
  const measure: MeasureOptions = options.smoke
    ? { rounds: 2, roundMs: 30, maxOpsPerRound: 20 }
    : { rounds: 7, roundMs: 300 }
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-sql-'))
  try {
    console.log('\n## sql: SQLite (WAL, synchronous NORMAL, foreign keys on, for every system)')
    await runBackend('SQLite', await sqliteContenders(folder), batch, measure)
    console.log(`\n## sql: PostgreSQL (${options.pgUrl}, pools of 10 connections, server defaults)`)
    const postgres = await postgresContenders(options.pgUrl)
    try {
      await runBackend('PostgreSQL', postgres.contenders, batch, measure)
    } finally {
      await postgres.cleanup()
    }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

async function runBackend(
  backend: string,
  contenders: Array<SqlContender | ResultRow>,
  batch: number,
  measure: MeasureOptions,
): Promise<void> {
  const ready = contenders.filter((c): c is SqlContender => 'pointRead' in c)
  const failed = contenders.filter((c): c is ResultRow => !('pointRead' in c))
  // A scattered sequence that visits every id before repeating (7921 - 1 is a multiple of 4 and
  // of 5, the prime factors of ROWS), one per system, so every system reads the same keys.
  const keys = () => {
    let next = 0
    return () => {
      next = (next * 7921 + 1) % ROWS
      return next + 1
    }
  }
  const run = async (
    title: string,
    unit: string,
    op: (c: SqlContender) => () => unknown,
    unitsPerOp = 1,
    notes: string[] = [],
  ) => {
    const cases: TimedCase[] = ready.map((c) => ({ name: c.system, run: op(c), unitsPerOp }))
    const stats = await measureCases(cases, measure)
    const rows: ResultRow[] = ready.map((c) => {
      const s = stats.get(c.system)
      return s ? { system: c.system, role: c.role, stats: s } : { system: c.system, role: c.role }
    })
    printResultTable({ suite: 'sql', title: `${backend}: ${title}`, unit, rows: [...rows, ...failed], notes })
  }
  try {
    await run('point read by primary key (10,000 rows)', 'reads', (c) => {
      const key = keys()
      return () => c.pointRead(key())
    })
    await run(`${RANGE}-row read by primary-key range`, 'reads', (c) => {
      const key = keys()
      return () => c.rangeRead(key() % (ROWS - RANGE))
    })
    await run(
      `${batch.toLocaleString('en-US')}-row insert in one transaction, one INSERT per row`,
      'rows',
      (c) => () => c.insertBatch(batch),
      batch,
    )
    await run(
      `${CONCURRENT} concurrent read-then-update transactions (one op = all ${CONCURRENT})`,
      'transactions',
      (c) => {
        const key = keys()
        return () => Promise.all(Array.from({ length: CONCURRENT }, () => c.transaction(key())))
      },
      CONCURRENT,
      backend === 'SQLite'
        ? [
            'better-sqlite3 is synchronous, so its row runs the 8 transactions one after another; the async libraries queue them on their one connection.',
          ]
        : [
            'Every system uses a pool of up to 10 connections, so the 8 transactions run on 8 connections at once.',
          ],
    )
  } finally {
    for (const c of ready) await c.close()
  }
}

const schemaSql = 'CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL)'
const pointSql = 'SELECT id, name, score FROM kv WHERE id = ?'
const rangeSql = `SELECT id, name, score FROM kv WHERE id >= ? ORDER BY id LIMIT ${RANGE}`
const insertSql = 'INSERT INTO kv (name, score) VALUES (?, ?)'
const updateSql = 'UPDATE kv SET score = ? WHERE id = ?'

/**
 * Fills a fresh SQLite file with the same rows for every system and closes it, so every system
 * then opens a file in the same state. (A connection that keeps the WAL it wrote reads about
 * 15% faster per point read than one that opens a checkpointed file with an empty WAL, until
 * its first write; the raw row used to keep its seeding connection and had that advantage.)
 */
function seedSqlite(path: string): void {
  const db = openSqlite(path)
  db.exec(schemaSql)
  const insert = db.prepare('INSERT INTO kv (id, name, score) VALUES (?, ?, ?)')
  db.transaction(() => {
    for (let i = 1; i <= ROWS; i++) insert.run(i, `name-${i}`, i / 7)
  })()
  db.close()
}

/** Opens a file with better-sqlite3 and the settings engram's adapter uses by default, so each commit costs every system the same. */
function openSqlite(path: string): Database.Database {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  return db
}

async function sqliteContenders(folder: string): Promise<Array<SqlContender | ResultRow>> {
  const out: Array<SqlContender | ResultRow> = []

  const rawPath = join(folder, 'raw.db')
  seedSqlite(rawPath)
  const raw = openSqlite(rawPath)
  const point = raw.prepare(pointSql)
  const range = raw.prepare(rangeSql)
  const insert = raw.prepare(insertSql)
  const update = raw.prepare(updateSql)
  const readThenUpdate = raw.transaction((id: number) => {
    const row = point.get(id) as { score: number }
    update.run(row.score + 1, id)
  })
  out.push({
    system: 'raw better-sqlite3 (prepared statements)',
    role: 'raw',
    pointRead: (id) => point.get(id),
    rangeRead: (from) => range.all(from),
    insertBatch: raw.transaction((rows: number) => {
      for (let i = 0; i < rows; i++) insert.run(`n${i}`, i)
    }),
    transaction: readThenUpdate,
    close: async () => {
      raw.close()
    },
  })
  // The same statements behind a promise per call: what any async API pays before its own work.
  out.push({
    system: 'raw better-sqlite3, each call awaited (the floor for any async API)',
    role: 'alternative',
    pointRead: async (id) => point.get(id),
    rangeRead: async (from) => range.all(from),
    insertBatch: async (rows) => {
      raw.exec('BEGIN IMMEDIATE')
      try {
        for (let i = 0; i < rows; i++) await Promise.resolve(insert.run(`n${i}`, i))
        raw.exec('COMMIT')
      } catch (error) {
        raw.exec('ROLLBACK')
        throw error
      }
    },
    transaction: async (id) => readThenUpdate(id),
    close: async () => undefined,
  })

  const enginePath = join(folder, 'engram.db')
  seedSqlite(enginePath)
  out.push(engramContender('engram sqlite-native', createSqliteNativeAdapter({ filename: enginePath })))

  const framersPath = join(folder, 'framers.db')
  seedSqlite(framersPath)
  try {
    // Its README's desktop recipe: createDatabase with better-sqlite3 first.
    const db = await createDatabase({ file: framersPath, priority: ['better-sqlite3'] })
    // It opens the file with better-sqlite3's defaults; set what the other systems use.
    await db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON')
    out.push(framersContender('@framers/sql-storage-adapter 0.6.8 (better-sqlite3)', db))
  } catch (error) {
    out.push(failure('@framers/sql-storage-adapter 0.6.8 (better-sqlite3)', error))
  }

  const kyselyPath = join(folder, 'kysely.db')
  seedSqlite(kyselyPath)
  const kdb = openSqlite(kyselyPath)
  out.push(
    kyselyContender(
      'Kysely 0.28 (SqliteDialect, better-sqlite3)',
      new Kysely<KyselySchema>({
        dialect: new SqliteDialect({ database: kdb }),
      }),
    ),
  )
  return out
}

async function postgresContenders(
  url: string,
): Promise<{ contenders: Array<SqlContender | ResultRow>; cleanup: () => Promise<void> }> {
  const out: Array<SqlContender | ResultRow> = []
  const schema = `engram_bench_sql_${process.pid}`
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  const cleanup = async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
    await admin.end()
  }
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.kv (id SERIAL PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION NOT NULL);
      INSERT INTO ${schema}.kv (name, score) SELECT 'name-' || i, i / 7.0 FROM generate_series(1, ${ROWS}) i;
      ANALYZE ${schema}.kv`)
  } catch (error) {
    // No server: every row says so, rather than the PostgreSQL half silently vanishing.
    const reason = `PostgreSQL at ${url} is not usable: ${describeError(error)}`
    const roles: Array<[string, Role]> = [
      ['raw pg', 'raw'],
      ['engram postgres', 'engram'],
      ['engram postgres (preparedStatements: true)', 'engram'],
      ['@framers/sql-storage-adapter', 'alternative'],
      ['Kysely', 'alternative'],
    ]
    return { contenders: roles.map(([system, role]) => ({ system, role, error: reason })), cleanup }
  }
  // Every system reaches the same table through search_path, so the SQL text is the same.
  const options = `-c search_path=${schema}`

  const pool = new pg.Pool({ connectionString: url, max: 10, options })
  const pgPoint = 'SELECT id, name, score FROM kv WHERE id = $1'
  out.push({
    system: 'raw pg (Pool.query)',
    role: 'raw',
    pointRead: (id) => pool.query(pgPoint, [id]),
    rangeRead: (from) =>
      pool.query(`SELECT id, name, score FROM kv WHERE id >= $1 ORDER BY id LIMIT ${RANGE}`, [from]),
    insertBatch: async (rows) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        for (let i = 0; i < rows; i++)
          await client.query('INSERT INTO kv (name, score) VALUES ($1, $2)', [`n${i}`, i])
        await client.query('COMMIT')
      } finally {
        client.release()
      }
    },
    transaction: async (id) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const { rows } = await client.query<{ score: number }>(pgPoint, [id])
        await client.query('UPDATE kv SET score = $1 WHERE id = $2', [(rows[0]?.score ?? 0) + 1, id])
        await client.query('COMMIT')
      } finally {
        client.release()
      }
    },
    close: () => pool.end(),
  })

  out.push(
    engramContender(
      'engram postgres',
      createPostgresAdapter({ connectionString: url, max: 10, searchPath: [schema] }),
    ),
  )
  // The option that prepares each statement once per connection (off by default: see docs/postgres.md).
  out.push(
    engramContender(
      'engram postgres (preparedStatements: true)',
      createPostgresAdapter({
        connectionString: url,
        max: 10,
        searchPath: [schema],
        preparedStatements: true,
      }),
    ),
  )

  const framersName = '@framers/sql-storage-adapter 0.6.8 (postgres)'
  try {
    // `type: 'postgres'` is needed: with only `postgres: {...}` (its README's cloud example) it
    // picks better-sqlite3 on Node, because its Node default priority leaves PostgreSQL out.
    const db = await createDatabase({
      type: 'postgres',
      postgres: {
        connectionString: `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(options)}`,
        max: 10,
      },
    })
    if (db.kind !== 'postgres') throw new Error(`createDatabase picked ${db.kind}, not postgres`)
    out.push(framersContender(framersName, db))
  } catch (error) {
    out.push(failure(framersName, error))
  }

  out.push(
    kyselyContender(
      'Kysely 0.28 (PostgresDialect, pg Pool)',
      new Kysely<KyselySchema>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10, options }) }),
      }),
    ),
  )
  return { contenders: out, cleanup }
}

/** The calls the workloads make; engram's `StorageAdapter` and @framers' adapter both have them. */
interface AsyncSql {
  get<T>(sql: string, params?: unknown[]): Promise<T | null | undefined>
  all<T>(sql: string, params?: unknown[]): Promise<T[]>
  run(sql: string, params?: unknown[]): Promise<unknown>
  transaction<T>(fn: (tx: AsyncSql) => Promise<T>): Promise<T>
  close(): Promise<void>
}

function engramContender(system: string, db: StorageAdapter): SqlContender {
  // Same calls; only the parameter types are stricter (SqlParams), which these workloads satisfy.
  return asyncContender(system, 'engram', db as unknown as AsyncSql)
}

function framersContender(system: string, db: FramersAdapter): SqlContender {
  // It rewrites `?` to `$n` itself on PostgreSQL, so both backends take the same SQL text.
  return asyncContender(system, 'alternative', db)
}

/** engram and @framers run the very same calls, so their rows differ only by the library. */
function asyncContender(system: string, role: SqlContender['role'], db: AsyncSql): SqlContender {
  return {
    system,
    role,
    pointRead: (id) => db.get(pointSql, [id]),
    rangeRead: (from) => db.all(rangeSql, [from]),
    insertBatch: (rows) =>
      db.transaction(async (tx) => {
        for (let i = 0; i < rows; i++) await tx.run(insertSql, [`n${i}`, i])
      }),
    transaction: (id) =>
      db.transaction(async (tx) => {
        const row = await tx.get<{ score: number }>(pointSql, [id])
        await tx.run(updateSql, [(row?.score ?? 0) + 1, id])
      }),
    close: () => db.close(),
  }
}

function kyselyContender(system: string, db: Kysely<KyselySchema>): SqlContender {
  const point = (q: Kysely<KyselySchema>, id: number) =>
    q.selectFrom('kv').select(['id', 'name', 'score']).where('id', '=', id).executeTakeFirst()
  return {
    system,
    role: 'alternative',
    pointRead: (id) => point(db, id),
    rangeRead: (from) =>
      db
        .selectFrom('kv')
        .select(['id', 'name', 'score'])
        .where('id', '>=', from)
        .orderBy('id')
        .limit(RANGE)
        .execute(),
    insertBatch: (rows) =>
      db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows; i++)
          await trx
            .insertInto('kv')
            .values({ name: `n${i}`, score: i })
            .execute()
      }),
    transaction: (id) =>
      db.transaction().execute(async (trx) => {
        const row = await point(trx, id)
        await trx
          .updateTable('kv')
          .set({ score: (row?.score ?? 0) + 1 })
          .where('id', '=', id)
          .execute()
      }),
    close: () => db.destroy(),
  }
}

function failure(system: string, error: unknown): ResultRow {
  return { system, role: 'alternative', error: describeError(error) }
}
