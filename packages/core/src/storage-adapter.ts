/** The SQL dialect an adapter speaks; it decides placeholder style and the SQL the suites use. */
export type SqlDialect = 'sqlite' | 'postgres'

/** A value that can be bound to a parameter. `undefined` is rejected, never turned into NULL. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array | Date | readonly unknown[]

/** Positional parameters for `?`, or named parameters for `:name`. */
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>

/** One result row, keyed by column name or alias (case preserved). */
export type Row = Record<string, unknown>

/** The outcome of a statement run with `run()`. */
export interface RunResult {
  /** Rows inserted, updated or deleted by the statement; 0 for DDL and for statements that match nothing. */
  changes: number
  /** The rowid of the last inserted row on SQLite (a `bigint` above 2^53); `undefined` where the backend has none. */
  lastInsertRowid?: number | bigint
}

/** What an adapter can do beyond the contract's minimum, so callers and suites can adapt. */
export interface StorageCapabilities {
  /** Full-text search is available: `'fts5'`, `'fts4'`, `'tsvector'`, or `false`. */
  fts: 'fts5' | 'fts4' | 'tsvector' | false
  /** JSON functions are available (`json_extract` on SQLite, JSONB on Postgres). */
  json: boolean
  /** `INSERT … RETURNING` is supported. */
  returning: boolean
  /** Nested transactions become savepoints. */
  savepoints: boolean
  /** `run()` reports `lastInsertRowid`. */
  lastInsertRowid: boolean
  /** `'single'`: one connection, calls are serialised. `'pool'`: independent connections run in parallel. */
  concurrency: 'single' | 'pool'
  /** `'file'`, `'server'`, `'browser'` (IndexedDB and similar) or `'memory'` (nothing survives `close()`). */
  persistence: 'file' | 'server' | 'browser' | 'memory'
}

/**
 * The SQL contract every storage driver implements.
 *
 * Application SQL uses `?` with an array or `:name` with an object; the adapter rewrites
 * it to the driver's own form. On Postgres, the JSONB operators `?`, `?|`, `?&` are written
 * `??`, `??|`, `??&`.
 */
export interface StorageAdapter {
  /** The driver's name: `'sqlite-native'`, `'postgres'`, or a plugin's own. */
  readonly kind: string
  /** The SQL dialect this adapter speaks. */
  readonly dialect: SqlDialect
  /** What this adapter supports beyond the minimum. */
  readonly capabilities: StorageCapabilities
  /** Runs a script of one or more statements separated by `;`. Takes no parameters. */
  exec(sql: string): Promise<void>
  /** Runs one statement and reports how many rows it changed. */
  run(sql: string, params?: SqlParams): Promise<RunResult>
  /** Returns the first row, or `undefined` when there is none. */
  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined>
  /** Returns every row; `[]` when there are none. */
  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]>
  /**
   * Streams rows in bounded memory; stopping the loop early releases the statement.
   * On single-connection drivers the connection is held until the loop ends, so do not
   * call the same adapter from inside the loop.
   */
  iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T>
  /**
   * Runs `fn` in a transaction and returns its value. It commits when `fn` resolves and
   * rolls back and rethrows the original error when it rejects. Inside `fn`, use `tx`:
   * calls on the outer adapter wait until the transaction ends. `tx.transaction()` is a savepoint.
   */
  transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T>
  /** Closes the adapter. Later calls fail with a `CLOSED` error; a second `close()` does nothing. */
  close(): Promise<void>
}
