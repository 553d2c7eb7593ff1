import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import {
  booleanOption,
  checkWellFormed,
  createConnectionAdapter,
  fromDriverInteger,
  integerOption,
  type Row,
  type SqlConnection,
  type StorageAdapter,
  StorageError,
  sqliteErrorCode,
} from '@engram/core'
import Database from 'better-sqlite3'
import { type FileWriteLock, fileWriteLock } from './file-write-lock.js'
import { nativeModuleError } from './native-module-error.js'
import { type RowChecker, rowChecker, settleRow } from './settle-row.js'

/** Options for `createSqliteNativeAdapter`. */
export interface SqliteNativeConfig {
  /** The database file, or `':memory:'`. Parent folders are created. */
  filename: string
  /** Open read-only. Default is `false`. */
  readonly?: boolean
  /** Fail instead of creating the file when it does not exist. Default is `false`. */
  fileMustExist?: boolean
  /**
   * How long a write waits for another connection's write lock, in milliseconds, before `BUSY`.
   * Adapters of the same process on the same file wait for each other asynchronously (the event
   * loop keeps running); other processes are waited for by SQLite. Default is `5000`.
   */
  busyTimeout?: number
  /** Use write-ahead logging for file databases. Default is `true`. */
  wal?: boolean
  /**
   * How hard a commit waits for the disk. `'normal'` with WAL never corrupts the database and
   * loses nothing when the process dies, but a power cut or OS crash may lose the last commits;
   * `'full'` survives those too, at a cost on every commit. Default is `'normal'` for WAL files
   * (as better-sqlite3 itself does), `'full'` otherwise.
   */
  synchronous?: 'full' | 'normal'
  /**
   * Throw a clear error when a transaction callback calls the outer adapter instead of `tx`
   * (which would otherwise wait for itself forever). It uses Node's AsyncLocalStorage, which
   * slows every `await` in the process a little while on. Default is on when `NODE_ENV` is
   * `'development'` or `'test'`, off otherwise.
   */
  guardTransactions?: boolean
  /** Enforce foreign keys. Default is `true`. */
  foreignKeys?: boolean
  /** Prepared statements kept per connection (the oldest are dropped first). Default is `200`. */
  statementCacheSize?: number
  /**
   * Bytes of the file SQLite reads through memory-mapped I/O (`PRAGMA mmap_size`) instead of
   * copying pages into its own cache. Random reads in a file far larger than the page cache (a
   * vector collection's records) cost about half as much with it: reading ten 1.6 KB records of
   * a 200 MB table took 25 µs against 45 µs here. The mapped pages are the operating system's
   * file cache, not the process's own memory, but they count in its resident size once read.
   * An I/O error on a mapped file (a failing disk, or another program truncating the file) ends
   * the process with a signal instead of an error, which is why SQLite leaves it off. `0` keeps
   * it off. Default is `0`.
   */
  mmapSize?: number
}

/**
 * A prepared statement, whether it returns integers exactly (as bigint) or as numbers, whether
 * it writes, and, for a read-only query, the checker for its rows.
 */
type Statement = Database.Statement<unknown[], Row> & { safe?: boolean; writes?: boolean; check?: RowChecker }

/** What `run()` reports. */
type RunOutcome = { changes: number; lastInsertRowid: number | bigint }

/** Opens a SQLite database with better-sqlite3 and returns it as a `StorageAdapter`. */
export function createSqliteNativeAdapter(config: SqliteNativeConfig): StorageAdapter {
  const filename = config?.filename
  if (typeof filename !== 'string' || filename.length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createSqliteNativeAdapter needs a filename (a path or ":memory:")',
    )
  }
  // A NUL would cut the path short and a lone surrogate would be re-encoded: another file than the one named.
  checkWellFormed(filename, 'filename')
  const inMemory = filename === ':memory:' || filename === ''
  const readonly = booleanOption(config.readonly, false, 'readonly')
  const fileMustExist = booleanOption(config.fileMustExist, false, 'fileMustExist')
  const wal = booleanOption(config.wal, true, 'wal') && !inMemory && !readonly
  const foreignKeys = booleanOption(config.foreignKeys, true, 'foreignKeys')
  const guardTransactions = booleanOption(config.guardTransactions, isDevelopment(), 'guardTransactions')
  const busyTimeout = integerOption(config.busyTimeout, 5000, 'busyTimeout', 0)
  const statementCacheSize = integerOption(config.statementCacheSize, 200, 'statementCacheSize', 0)
  let db: Database.Database
  try {
    if (!inMemory && !readonly) mkdirSync(dirname(resolve(filename)), { recursive: true })
    db = new Database(filename, {
      readonly,
      fileMustExist,
      timeout: busyTimeout,
    })
  } catch (error) {
    const notBuilt = nativeModuleError(error)
    if (notBuilt !== undefined) throw notBuilt
    throw new StorageError(
      'CONNECTION_FAILED',
      `Could not open SQLite database ${filename}: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  let file: ReturnType<typeof fileWriteLock> | undefined
  try {
    if (wal) db.pragma('journal_mode = WAL')
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`)
    const synchronous = config.synchronous ?? (wal ? 'normal' : 'full')
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `synchronous must be 'full' or 'normal', got ${JSON.stringify(synchronous)}`,
      )
    }
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`)
    const mmapSize = integerOption(config.mmapSize, 0, 'mmapSize', 0)
    if (mmapSize > 0 && !inMemory) db.pragma(`mmap_size = ${mmapSize}`)
    file = inMemory ? undefined : fileWriteLock(filename)
  } catch (error) {
    db.close()
    if (error instanceof StorageError) throw error
    throw new StorageError(
      sqliteErrorCode(error),
      `Could not configure ${filename}: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  return createConnectionAdapter({
    kind: 'sqlite-native',
    dialect: 'sqlite',
    capabilities: {
      fts: 'fts5',
      json: true,
      returning: true,
      savepoints: true,
      lastInsertRowid: true,
      concurrency: 'single',
      persistence: inMemory ? 'memory' : 'file',
    },
    connection: new BetterSqliteConnection(db, statementCacheSize, file, busyTimeout),
    errorCode: sqliteErrorCode,
    beginSql: 'BEGIN IMMEDIATE',
    // The connection settles each row while it checks it for rounded integers: one pass, not two.
    rowsNormalized: true,
    // Lets core turn "called the outer adapter inside its own transaction" into an error instead of a hang.
    ...(guardTransactions ? { asyncContext: new AsyncLocalStorage() } : {}),
  })
}

/**
 * better-sqlite3 binds separate arguments faster than one array (measured ~9% on a two-column
 * INSERT), but spreading hundreds of values is slower than handing over the array, so lists
 * longer than this go as an array. Each statement method is called by name at its own call site:
 * a shared helper that looked the method up by a variable name (`statement[method]`) cost about
 * 0.08 µs a call (3.69 against 3.61 µs a point read, interleaved in one process).
 */
const SPREAD_LIMIT = 32

/** Runs a writing statement. */
function runWith(statement: Statement, params: unknown[]): Database.RunResult {
  return params.length <= SPREAD_LIMIT ? statement.run(...params) : statement.run(params)
}

/** Reads a statement's first row. */
function getWith(statement: Statement, params: unknown[]): Row | undefined {
  return params.length <= SPREAD_LIMIT ? statement.get(...params) : statement.get(params)
}

/** Reads all of a statement's rows. */
function allWith(statement: Statement, params: unknown[]): Row[] {
  return params.length <= SPREAD_LIMIT ? statement.all(...params) : statement.all(params)
}

/** Opens a cursor over a statement's rows. */
function iterateWith(statement: Statement, params: unknown[]): Iterator<Row> {
  return params.length <= SPREAD_LIMIT ? statement.iterate(...params) : statement.iterate(params)
}

function isDevelopment(): boolean {
  const env = process.env.NODE_ENV
  return env === 'development' || env === 'test'
}

/**
 * better-sqlite3 behind core's `SqlConnection`, with a bounded cache of prepared statements.
 * Writes outside a transaction, and whole transactions, hold the file's process-wide write lock.
 */
class BetterSqliteConnection implements SqlConnection {
  readonly #db: Database.Database
  readonly #cache = new Map<string, Statement>()
  readonly #cacheSize: number
  readonly #file: { lock: FileWriteLock; unref(): void } | undefined
  readonly #busyTimeout: number
  /** Whether this connection holds its file's write lock (from a write until its transaction ends). */
  #holds = false
  /** The statement used last and its SQL. */
  #lastSql: string | undefined
  #last: Statement | undefined

  constructor(
    db: Database.Database,
    cacheSize: number,
    file: { lock: FileWriteLock; unref(): void } | undefined,
    busyTimeout: number,
  ) {
    this.#db = db
    this.#cacheSize = Math.max(0, cacheSize)
    this.#file = file
    this.#busyTimeout = busyTimeout
  }

  exec(sql: string): void | Promise<void> {
    if (!this.#mayWrite()) return this.#lockThen(() => this.#exec(sql))
    return this.#exec(sql)
  }

  run(sql: string, params: unknown[]): RunOutcome | Promise<RunOutcome> {
    const statement = this.#statement(sql)
    if (!statement.writes) return this.#run(statement, params)
    if (!this.#mayWrite()) return this.#lockThen(() => this.#run(statement, params))
    try {
      return this.#run(statement, params)
    } finally {
      this.#wrote()
    }
  }

  get(sql: string, params: unknown[]): Row | undefined | Promise<Row | undefined> {
    const statement = this.#statement(sql)
    if (!statement.writes) return this.#get(statement, sql, params)
    if (!this.#mayWrite()) return this.#lockThen(() => this.#get(statement, sql, params))
    try {
      return this.#get(statement, sql, params)
    } finally {
      this.#wrote()
    }
  }

  all(sql: string, params: unknown[]): Row[] | Promise<Row[]> {
    const statement = this.#statement(sql)
    if (!statement.writes) return this.#all(statement, sql, params)
    if (!this.#mayWrite()) return this.#lockThen(() => this.#all(statement, sql, params))
    try {
      return this.#all(statement, sql, params)
    } finally {
      this.#wrote()
    }
  }

  #exec(sql: string): void {
    try {
      this.#db.exec(sql)
    } finally {
      this.#wrote()
    }
  }

  #run(statement: Statement, params: unknown[]): RunOutcome {
    const info = runWith(statement, params)
    const rowid = info.lastInsertRowid
    // Writers return plain numbers (cheaper), and better-sqlite3's own result is handed on as
    // it is; only a rowid beyond 2^53 is read again exactly.
    if (typeof rowid === 'number' && Number.isSafeInteger(rowid)) return info
    const exact = typeof rowid === 'bigint' ? fromDriverInteger(rowid) : this.#lastRowid()
    return { changes: info.changes, lastInsertRowid: exact }
  }

  #get(statement: Statement, sql: string, params: unknown[]): Row | undefined {
    const row = getWith(statement, params)
    if (row === undefined) return row
    const check = statement.check
    if (check === undefined ? settleRow(row, true) : check(row)) return row
    // A read-only query is cheap to repeat; it runs again with exact integers only when needed.
    const exact = getWith(this.#prepare(sql, true), params)
    if (exact !== undefined) settleRow(exact, true)
    return exact
  }

  #all(statement: Statement, sql: string, params: unknown[]): Row[] {
    const rows = allWith(statement, params)
    const check = statement.check
    let i = 0
    if (check === undefined) for (; i < rows.length; i++) settleRow(rows[i] as Row, true)
    else while (i < rows.length && check(rows[i] as Row)) i++
    if (i === rows.length) return rows
    const exact = allWith(this.#prepare(sql, true), params)
    for (const row of exact) settleRow(row, true)
    return exact
  }

  iterate(sql: string, params: unknown[]): Iterator<Row> {
    // A statement can only run one iteration at a time, so cursors get their own; rows already
    // handed out cannot be read again, so a cursor reads exact integers from the start.
    return iterateWith(this.#prepare(sql, true), params)
  }

  close(): void {
    this.#cache.clear()
    this.#lastSql = undefined
    this.#last = undefined
    try {
      this.#db.close()
    } finally {
      if (this.#holds) {
        this.#holds = false
        this.#file?.lock.release()
      }
      this.#file?.unref()
    }
  }

  /**
   * Takes the file's write lock for a write when it is free (the call stays synchronous) or
   * already held; `false` means another adapter of this process holds it (see `#lockThen`).
   * The lock is kept until the transaction the write belongs to ends (`#wrote`).
   */
  #mayWrite(): boolean {
    const file = this.#file
    if (file === undefined || this.#holds) return true
    if (!file.lock.tryAcquire()) return false
    this.#holds = true
    return true
  }

  /** Waits asynchronously for the write lock another adapter of this process holds, then writes. */
  async #lockThen<T>(write: () => T): Promise<T> {
    const granted = await (this.#file as { lock: FileWriteLock }).lock.acquire(this.#busyTimeout)
    if (!granted) {
      throw Object.assign(
        new Error(
          `database is locked: another adapter in this process kept its write transaction open for more than busyTimeout (${this.#busyTimeout} ms)`,
        ),
        { code: 'SQLITE_BUSY' },
      )
    }
    this.#holds = true
    try {
      return write()
    } finally {
      this.#wrote()
    }
  }

  /** Gives the write lock back once a write leaves no transaction open. */
  #wrote(): void {
    if (this.#holds && !this.#db.inTransaction) {
      this.#holds = false
      this.#file?.lock.release()
    }
  }

  #statement(sql: string): Statement {
    // A loop runs one statement many times over: the same string needs no lookup at all.
    if (sql === this.#lastSql) return this.#last as Statement
    let statement = this.#cache.get(sql)
    if (statement === undefined) {
      statement = this.#prepare(sql)
      if (this.#cacheSize > 0) {
        // Evict the oldest entry: cheaper than reordering on every hit, and hot statements come straight back.
        if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as string)
        this.#cache.set(sql, statement)
      }
    }
    this.#lastSql = sql
    this.#last = statement
    return statement
  }

  /**
   * Prepares a statement. Read-only queries return integers as plain numbers, which is faster
   * than bigints; `get`/`all` notice a number beyond 2^53 (possibly rounded) and read again
   * with `exact`. Writers that return rows (RETURNING) cannot run twice, so they, and `exact`
   * statements, return integers as bigint, which core turns back into numbers where safe.
   */
  #prepare(sql: string, exact = false): Statement {
    const statement = this.#db.prepare<unknown[], Row>(sql)
    const safe = statement.reader && (exact || !statement.readonly)
    if (safe) statement.safeIntegers(true)
    const check = statement.reader && !safe ? rowChecker(statement.columns().map((c) => c.name)) : undefined
    return Object.assign(statement, { safe, writes: !statement.readonly, check })
  }

  #lastRowid(): bigint {
    const row = this.#prepare('SELECT last_insert_rowid() AS id', true).get() as { id: bigint }
    return row.id
  }
}
