import type { Row, RunResult } from './storage-adapter.js'

/** A value or a promise of it: drivers that answer synchronously (better-sqlite3, sql.js) skip the promise. */
export type MaybePromise<T> = T | Promise<T>

/**
 * One database connection as a driver supplies it to core's engine. SQL arrives already
 * rewritten to the driver's placeholders and parameters already mapped to driver values;
 * core does locking, transactions, savepoints, value rules and error mapping.
 */
export interface SqlConnection {
  /** Runs a multi-statement script. */
  exec(sql: string): MaybePromise<void>
  /** Runs one statement and reports changes and the last rowid. */
  run(sql: string, params: unknown[]): MaybePromise<RunResult>
  /** Returns the first row or `undefined`. */
  get(sql: string, params: unknown[]): MaybePromise<Row | undefined>
  /** Returns every row. */
  all(sql: string, params: unknown[]): MaybePromise<Row[]>
  /** Opens a lazy cursor; `return()` on the iterator must release it. */
  iterate(sql: string, params: unknown[]): Iterator<Row> | AsyncIterator<Row>
  /** Closes the connection. Single-connection drivers need it; pooled connections go back to their pool instead. */
  close?(): MaybePromise<void>
}

/**
 * A pool of connections, as a pooled driver (PostgreSQL) supplies it. Calls outside a
 * transaction check a connection out for one statement; a transaction keeps one for its
 * whole callback.
 */
export interface SqlConnectionPool<C extends SqlConnection = SqlConnection> {
  /** Checks a connection out, waiting for one if the pool is at its limit. */
  acquire(): Promise<C>
  /**
   * Gives a connection back. `failure` is the connection-level error seen while it was out
   * (see `connectionLost`): the pool must discard the connection instead of reusing it.
   */
  release(connection: C, failure?: unknown): void
  /** Closes every connection; called once, after every checked-out connection is back. */
  close(): MaybePromise<void>
}

/**
 * Tells which transaction callback the current async call chain is inside. Node's
 * `AsyncLocalStorage` has exactly this shape; drivers that run on Node pass one.
 */
export interface AsyncContext {
  /** Runs `fn` with `store` as the current value for everything it awaits. */
  run<T>(store: unknown, fn: () => T): T
  /** The value set by the innermost `run` around the current call, if any. */
  getStore(): unknown
}
