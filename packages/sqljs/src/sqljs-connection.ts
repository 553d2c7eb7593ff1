import { fromDriverInteger, type Row, type RunResult, type SqlConnection } from '@engram/core'
import type { SqlJsDatabase, SqlJsStatement } from './load-sqljs.js'

/** The statement core sends to open a top-level transaction; the connection watches for it. */
export const BEGIN_SQL = 'BEGIN IMMEDIATE'

/** Options for `SqlJsConnection`. */
export interface SqlJsConnectionOptions {
  /** Enforce foreign keys. */
  foreignKeys: boolean
  /** Prepared statements kept (the oldest are dropped first). */
  statementCacheSize: number
  /** Keep track of committed changes, for drivers that save a snapshot after each commit. */
  trackChanges: boolean
  /** This sql.js closes and reopens the database in `export()` (before 1.16), freeing statements and resetting PRAGMAs. */
  exportReopens: boolean
}

/** Scratch statements the connection runs for itself, prepared once per database. */
interface Helpers {
  total: SqlJsStatement
  afterRun: SqlJsStatement
  stamp: SqlJsStatement
}

/**
 * sql.js behind core's `SqlConnection`: a statement cache, rows as objects with exact 64-bit
 * integers, and — for persistence — a record of whether committed content changed since the
 * last snapshot, so reads and rolled-back transactions never cause a write.
 */
export class SqlJsConnection implements SqlConnection {
  #db: SqlJsDatabase
  #helpers: Helpers | undefined
  readonly #options: SqlJsConnectionOptions
  readonly #cache = new Map<string, SqlJsStatement>()
  /** `total_changes()` when known without asking, so consecutive writes skip one query each. */
  #knownTotal: number | undefined
  /** The content stamp of the last commit point that was accounted for. */
  #baseline = ''
  /** The content stamp when the running top-level transaction began. */
  #stampAtBegin: string | undefined

  constructor(db: SqlJsDatabase, options: SqlJsConnectionOptions) {
    this.#db = db
    this.#options = options
    this.#configure()
  }

  exec(sql: string): void {
    this.#knownTotal = undefined
    if (!this.#options.trackChanges) {
      this.#script(sql)
      return
    }
    if (sql === BEGIN_SQL) {
      this.#stampAtBegin = this.#stamp()
    } else if (sql === 'ROLLBACK') {
      try {
        this.#script(sql)
      } finally {
        this.#afterRollback()
      }
      return
    }
    this.#script(sql)
    if (sql === 'COMMIT') this.#stampAtBegin = undefined
  }

  run(sql: string, params: unknown[]): RunResult {
    const statement = this.#statement(sql)
    const before = this.#knownTotal ?? this.#total()
    this.#knownTotal = undefined
    try {
      bind(statement, params)
      step(statement)
    } finally {
      statement.reset()
    }
    const after = this.#helper('afterRun')
    let total: number
    let rowid: number | bigint
    try {
      step(after)
      const [changed, last] = readValues(after)
      total = Number(changed)
      rowid = typeof last === 'bigint' ? fromDriverInteger(last) : (last as number)
    } finally {
      after.reset()
    }
    this.#knownTotal = total
    // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE, so DDL would repeat it.
    return { changes: total === before ? 0 : this.#db.getRowsModified(), lastInsertRowid: rowid }
  }

  get(sql: string, params: unknown[]): Row | undefined {
    const statement = this.#statement(sql)
    this.#knownTotal = undefined
    try {
      bind(statement, params)
      return step(statement) ? readRow(statement, statement.getColumnNames()) : undefined
    } finally {
      statement.reset()
    }
  }

  all(sql: string, params: unknown[]): Row[] {
    const statement = this.#statement(sql)
    this.#knownTotal = undefined
    try {
      bind(statement, params)
      const rows: Row[] = []
      if (!step(statement)) return rows
      const names = statement.getColumnNames()
      do rows.push(readRow(statement, names))
      while (step(statement))
      return rows
    } finally {
      statement.reset()
    }
  }

  iterate(sql: string, params: unknown[]): Iterator<Row> {
    // A cursor gets its own statement: a cached one may be needed again before the loop ends.
    const statement = prepare(this.#db, sql)
    try {
      bind(statement, params)
    } catch (error) {
      statement.free()
      throw error
    }
    this.#knownTotal = undefined
    let names: string[] | undefined
    let open = true
    const release = () => {
      if (open) {
        open = false
        statement.free()
      }
    }
    return {
      next: () => {
        if (!open) return { done: true, value: undefined }
        try {
          if (!step(statement)) {
            release()
            return { done: true, value: undefined }
          }
          names ??= statement.getColumnNames()
          return { done: false, value: readRow(statement, names) }
        } catch (error) {
          release()
          throw error
        }
      },
      return: () => {
        release()
        return { done: true, value: undefined }
      },
    }
  }

  close(): void {
    this.#cache.clear()
    this.#helpers = undefined
    this.#db.close()
  }

  /**
   * Tells whether committed content changed since the last call, and takes note that it has
   * been seen. Reads, rolled-back transactions and a transaction still open (one the caller
   * began with `exec('BEGIN')`) do not count.
   */
  takeCommittedChange(): boolean {
    const stamp = this.#stamp()
    if (stamp === this.#baseline || this.#insideTransaction()) return false
    this.#baseline = stamp
    return true
  }

  /** A complete image of the database file. Never call it inside a transaction. */
  export(): Uint8Array {
    // sql.js 1.16 copies the pages with SQLite's backup API: the database stays open, and
    // prepared statements and PRAGMAs survive. Older versions closed and reopened it, so the
    // statements are gone and the settings must be applied again.
    const image = this.#db.export()
    if (this.#options.exportReopens) {
      this.#cache.clear()
      this.#helpers = undefined
      this.#knownTotal = undefined
      this.#db.run(`PRAGMA foreign_keys = ${this.#options.foreignKeys ? 'ON' : 'OFF'}`)
    }
    return image
  }

  /** Swaps in another database (from `import()`), closing the current one and its statements. */
  replace(db: SqlJsDatabase): void {
    this.#cache.clear()
    this.#helpers = undefined
    this.#knownTotal = undefined
    this.#stampAtBegin = undefined
    const previous = this.#db
    this.#db = db
    previous.close()
    this.#configure()
  }

  #configure(): void {
    this.#db.run(`PRAGMA foreign_keys = ${this.#options.foreignKeys ? 'ON' : 'OFF'}`)
    if (this.#options.trackChanges) this.#baseline = this.#stamp()
  }

  /** Runs a script; sql.js's `run()` without parameters is sqlite3_exec, which keeps no rows. */
  #script(sql: string): void {
    try {
      this.#db.run(sql)
    } catch (error) {
      throw toError(error)
    }
  }

  /**
   * After a top-level rollback the content is what it was at BEGIN, but `total_changes()` kept
   * counting, so the stamp is taken again — unless changes from before BEGIN were never
   * accounted for (a script that failed half-way), which must still be saved.
   */
  #afterRollback(): void {
    if (this.#stampAtBegin !== undefined && this.#stampAtBegin === this.#baseline) {
      this.#baseline = this.#stamp()
    }
    this.#stampAtBegin = undefined
  }

  /**
   * What identifies the committed content cheaply: rows changed (counts DML, including RETURNING
   * statements run through get/all/iterate), the schema cookie (DDL) and the user version.
   */
  #stamp(): string {
    const statement = this.#helper('stamp')
    try {
      step(statement)
      return statement.get().join(':')
    } finally {
      statement.reset()
    }
  }

  #total(): number {
    const statement = this.#helper('total')
    try {
      step(statement)
      return statement.get()[0] as number
    } finally {
      statement.reset()
    }
  }

  /** Whether a transaction is open: BEGIN is refused inside one, and costs nothing outside. */
  #insideTransaction(): boolean {
    try {
      this.#db.run('BEGIN')
    } catch (error) {
      if (/within a transaction/i.test(toError(error).message)) return true
      throw toError(error)
    }
    this.#db.run('ROLLBACK')
    return false
  }

  #helper(name: keyof Helpers): SqlJsStatement {
    this.#helpers ??= {
      total: prepare(this.#db, 'SELECT total_changes()'),
      afterRun: prepare(this.#db, 'SELECT total_changes(), last_insert_rowid()'),
      stamp: prepare(
        this.#db,
        'SELECT total_changes(), schema_version, user_version FROM pragma_schema_version, pragma_user_version',
      ),
    }
    return this.#helpers[name]
  }

  #statement(sql: string): SqlJsStatement {
    let statement = this.#cache.get(sql)
    if (statement === undefined) {
      statement = prepare(this.#db, sql)
      if (this.#options.statementCacheSize > 0) {
        // Evict the oldest entry: cheaper than reordering on every hit, and hot statements come straight back.
        if (this.#cache.size >= this.#options.statementCacheSize) {
          const oldest = this.#cache.keys().next().value as string
          this.#cache.get(oldest)?.free()
          this.#cache.delete(oldest)
        }
        this.#cache.set(sql, statement)
      }
    }
    return statement
  }
}

function prepare(db: SqlJsDatabase, sql: string): SqlJsStatement {
  try {
    return db.prepare(sql)
  } catch (error) {
    throw toError(error)
  }
}

/**
 * Binds positional values. sql.js binds a `bigint` as text, so one that fits a double exactly
 * goes as a number; larger ones stay text, which an INTEGER column converts back exactly.
 */
function bind(statement: SqlJsStatement, params: unknown[]): void {
  let values = params
  for (let i = 0; i < params.length; i++) {
    if (typeof params[i] === 'bigint') {
      values = params.map(toBindable)
      break
    }
  }
  try {
    statement.bind(values)
  } catch (error) {
    throw toError(error)
  }
}

function toBindable(value: unknown): unknown {
  if (typeof value !== 'bigint') return value
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value
}

function step(statement: SqlJsStatement): boolean {
  try {
    return statement.step()
  } catch (error) {
    throw toError(error)
  }
}

/**
 * The current row as an object. Integers arrive as doubles, which is exact up to 2^53; a row
 * holding a larger one is read again with `useBigInt` (a slower, string-based read) so no
 * integer ever loses precision. Core turns the safe ones back into numbers.
 */
function readRow(statement: SqlJsStatement, names: readonly string[]): Row {
  const values = statement.get()
  const row: Row = {}
  let inexact = false
  for (let i = 0; i < names.length; i++) {
    const value = values[i]
    if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) inexact = true
    row[names[i] as string] = value
  }
  if (inexact) {
    const exact = statement.get(null, { useBigInt: true })
    for (let i = 0; i < names.length; i++) row[names[i] as string] = exact[i]
  }
  return row
}

/** The current row's values, with integers beyond 2^53 as `bigint`. */
function readValues(statement: SqlJsStatement): unknown[] {
  const values = statement.get()
  for (const value of values) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
      return statement.get(null, { useBigInt: true })
    }
  }
  return values
}

/** sql.js throws plain strings in places ("Nothing to prepare"); core expects errors with a message. */
function toError(error: unknown): Error {
  if (error instanceof Error) return error
  if (error === 'Nothing to prepare') return new Error('The SQL contains no statement to run')
  return new Error(String(error))
}
