import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqlJsAdapter, type SqlJsStatic } from '@engram/sqljs'
import { MemorySampler, type Stats, summarise } from './measure.js'
import {
  describeError,
  formatMb,
  printResultTable,
  type ResultRow,
  type ResultTable,
  type Role,
} from './result-table.js'
import { sizeOnDisk } from './vector-dataset.js'

/** One system under test: a batch in one transaction, one row in its own commit, and its file. */
interface Writer {
  file: string
  insertBatch(rows: number, from: number): Promise<unknown> | unknown
  insertOne(id: number): Promise<unknown> | unknown
  close(): Promise<void> | void
}

/** How to open one system on a file. */
interface System {
  system: string
  role: Role
  open(file: string): Promise<Writer>
}

/** One timed operation: the writer and the operation's index (0, 1, 2 …). */
type Operation = (writer: Writer, index: number) => Promise<unknown> | unknown

const SCHEMA =
  'CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL)'
const INSERT = 'INSERT INTO kv (id, name, score) VALUES (?, ?, ?)'

/** sql.js's initialiser, typed with @engram/sqljs's description of the module (this app has no @types/sql.js). */
const initSqlJs = createRequire(import.meta.url)('sql.js') as () => Promise<SqlJsStatic>

const SYSTEMS: readonly System[] = [
  { system: 'raw sql.js, export() + the same atomic write by hand', role: 'raw', open: rawSqlJs },
  {
    system: 'engram sqljs (file)',
    role: 'engram',
    open: async (file) => adapterWriter(await createSqlJsAdapter({ filename: file }), file),
  },
  {
    system: 'engram sqlite-native (file, WAL, synchronous NORMAL)',
    role: 'alternative',
    open: (file) => adapterWriter(createSqliteNativeAdapter({ filename: file }), file),
  },
  {
    system: 'engram sqlite-native (file, WAL, synchronous FULL)',
    role: 'alternative',
    open: (file) => adapterWriter(createSqliteNativeAdapter({ filename: file, synchronous: 'full' }), file),
  },
]

/**
 * What saving the whole image after every commit costs: sql.js persisted to a file (engram's
 * adapter, and raw sql.js with the same atomic write by hand as the floor) beside
 * @engram/sqlite-native on a WAL file, for (a) 1,000 rows in one transaction and (b) 300
 * single-row inserts, each its own commit, into a table that already holds 10,000 rows.
 * The systems take turns in rounds, so drift in disk speed hits each of them alike.
 */
export async function sqljsPersistence(options: { smoke?: boolean } = {}): Promise<void> {
  const smoke = options.smoke ?? false
  const seedRows = smoke ? 100 : 10_000
  const batchRows = smoke ? 50 : 1000
  const batches = smoke ? 3 : 30
  const commits = smoke ? 20 : 300
  const rounds = smoke ? 1 : 5
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-sqljs-'))
  try {
    console.log(
      `\n## sqljs: sql.js saved to a file after every commit, beside sqlite-native (${seedRows.toLocaleString('en-US')} rows to start)`,
    )
    const first = seedRows + 1
    print(
      await runWorkload(join(folder, 'batch'), seedRows, batches, rounds, batchRows, (writer, i) =>
        writer.insertBatch(batchRows, first + i * batchRows),
      ),
      {
        title: `(a) ${batchRows.toLocaleString('en-US')} rows in one transaction, one INSERT per row (one op = one transaction; ${batches} of them)`,
        unit: 'rows',
        notes: [
          'sql.js writes the whole database image once per commit, so a large transaction costs one image write however many rows it holds.',
        ],
      },
    )
    print(
      await runWorkload(join(folder, 'commit'), seedRows, commits, rounds, 1, (writer, i) =>
        writer.insertOne(first + i),
      ),
      {
        title: `(b) ${commits} single-row INSERTs, each its own commit (one op = one commit)`,
        unit: 'commits',
        notes: [
          'Every sql.js commit rewrites and fsyncs the whole file (temp file, fsync, rename, fsync of the folder), so its cost grows with the database; sqlite-native appends a few pages to its WAL.',
          'sqlite-native with synchronous NORMAL does not fsync on commit (WAL); FULL does, which is the like-for-like comparison for durability.',
        ],
      },
    )
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

/**
 * Opens every system on its own file, seeds it, then runs `total` operations on each, a slice
 * per round with the systems taking turns. A system that fails is reported with its error.
 */
async function runWorkload(
  prefix: string,
  seedRows: number,
  total: number,
  rounds: number,
  unitsPerOp: number,
  operation: Operation,
): Promise<ResultRow[]> {
  const runs = SYSTEMS.map((system) => ({
    system,
    writer: undefined as Writer | undefined,
    error: undefined as string | undefined,
    latencies: [] as number[],
    wallMs: 0,
    sampler: new MemorySampler(),
    done: 0,
  }))
  for (const [index, run] of runs.entries()) {
    try {
      run.writer = await run.system.open(`${prefix}-${index}.sqlite`)
      await run.writer.insertBatch(seedRows, 1)
    } catch (error) {
      run.error = describeError(error)
    }
  }
  const perRound = Math.ceil(total / rounds)
  for (let round = 0; round < rounds; round++) {
    for (const run of runs) {
      const writer = run.writer
      if (writer === undefined || run.error !== undefined) continue
      const started = performance.now()
      try {
        for (let k = 0; k < perRound && run.done < total; k++) {
          const t0 = performance.now()
          const result = operation(writer, run.done)
          if (result instanceof Promise) await result
          run.latencies.push(performance.now() - t0)
          run.done++
          run.sampler.maybeSample()
        }
      } catch (error) {
        run.error = describeError(error)
      }
      run.wallMs += performance.now() - started
    }
  }
  const rows: ResultRow[] = []
  for (const run of runs) {
    const size = run.writer ? fileSize(run.writer.file) : '-'
    await run.writer?.close()
    const { system, role } = run.system
    if (run.error !== undefined) {
      rows.push({ system, role, error: run.error })
      continue
    }
    const stats: Stats = summarise(run.latencies, run.wallMs, unitsPerOp, run.sampler.peaks())
    rows.push({ system, role, stats, extra: { 'file at end': size } })
  }
  return rows
}

function print(rows: ResultRow[], table: Pick<ResultTable, 'title' | 'unit' | 'notes'>): void {
  printResultTable({ suite: 'sqljs', ...table, rows, extraColumns: ['file at end'] })
}

async function adapterWriter(db: StorageAdapter, file: string): Promise<Writer> {
  await db.exec(SCHEMA)
  return {
    file,
    insertBatch: (rows, from) =>
      db.transaction(async (tx) => {
        for (let i = 0; i < rows; i++) await tx.run(INSERT, [from + i, `name-${from + i}`, (from + i) / 7])
      }),
    insertOne: (id) => db.run(INSERT, [id, `name-${id}`, id / 7]),
    close: () => db.close(),
  }
}

/** The floor: sql.js used directly, saving each commit with the same atomic write the adapter does. */
async function rawSqlJs(file: string): Promise<Writer> {
  const SQL = await initSqlJs()
  const db = new SQL.Database()
  db.run(SCHEMA)
  const insert = db.prepare(INSERT)
  const insertRow = (id: number) => {
    insert.bind([id, `name-${id}`, id / 7])
    insert.step()
    insert.reset()
  }
  const save = () => {
    const image = db.export()
    const temp = `${file}.tmp`
    const fd = openSync(temp, 'w')
    try {
      writeSync(fd, image)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, file)
    const folder = openSync(dirname(file), 'r')
    try {
      fsyncSync(folder)
    } finally {
      closeSync(folder)
    }
  }
  return {
    file,
    insertBatch: (rows, from) => {
      db.run('BEGIN')
      for (let i = 0; i < rows; i++) insertRow(from + i)
      db.run('COMMIT')
      save()
    },
    insertOne: (id) => {
      insertRow(id)
      save()
    },
    close: () => {
      insert.free()
      db.close()
    },
  }
}

/** The database's size on disk, with sqlite-native's WAL file, which holds commits not yet checkpointed. */
function fileSize(file: string): string {
  return formatMb(sizeOnDisk(file) + sizeOnDisk(`${file}-wal`))
}
