import {
  bindParams,
  compileSql,
  Mutex,
  normalizeRow,
  type Row,
  type RunResult,
  type SqlParams,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
} from '@engram/core'
import pg from 'pg'
import Cursor from 'pg-cursor'
import { connectionTarget, describeTarget } from './connection-target.js'
import { createPgTypeParsers, type PgTypeParsers, parameterTypes } from './pg-type-parsers.js'
import { isConnectionLevelError, postgresErrorCode } from './postgres-error-code.js'

/** Options for `createPostgresAdapter`. Give `connectionString` or `pool`. */
export interface PostgresConfig {
  /** A `postgres://user:password@host:port/database` URL. */
  connectionString?: string
  /** An existing `pg.Pool` to use instead of making one; the adapter does not end it on `close()`. */
  pool?: pg.Pool
  /** Most connections the pool opens. Default is `10`. */
  max?: number
  /**
   * TLS options passed to `pg`: `true`, or `{ ca, cert, key, rejectUnauthorized }`. Certificates
   * are verified unless you set `rejectUnauthorized: false` yourself. Default is no TLS (or what the URL's `sslmode` says).
   */
  ssl?: pg.PoolConfig['ssl']
  /** Cancel statements running longer than this many milliseconds (`TIMEOUT` error). Default is no limit. */
  statementTimeout?: number
  /** Shown in `pg_stat_activity.application_name`. Default is `'engram'`. */
  applicationName?: string
  /** How long to wait for a new connection, in milliseconds, before `CONNECTION_FAILED`. Default is `10000`. */
  connectTimeout?: number
  /** Schemas to search for unqualified table names, first one first (sets `search_path`). Default is the server's. */
  searchPath?: string | readonly string[]
}

/** Rows read per round trip by `iterate()`. */
const CURSOR_BATCH = 500
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/
const CHANGE_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE'])

const CAPABILITIES: StorageCapabilities = Object.freeze({
  fts: 'tsvector',
  json: true,
  returning: true,
  savepoints: true,
  lastInsertRowid: false,
  concurrency: 'pool',
  persistence: 'server',
})

/** What every handle of one adapter shares: the pool, the type parsers and the close state. */
interface Shared {
  readonly pool: pg.Pool
  readonly ownsPool: boolean
  readonly parsers: PgTypeParsers
  /** `host:port` (and database) for connection errors; never includes the password. */
  readonly target: string
  readonly password: string | undefined
  closing: Promise<void> | undefined
  /** Calls and transactions started before `close()`, which it waits for. */
  running: number
  idle: (() => void) | undefined
}

/** The client a transaction pinned, shared by its savepoints. */
interface Pin {
  readonly client: pg.PoolClient
  /** A connection-level failure seen during the transaction: the client is destroyed, not pooled. */
  broken: unknown
}

/** One level of a transaction: its own lock (a client runs one statement at a time) and whether it is still usable. */
interface Scope {
  readonly pin: Pin
  readonly mutex: Mutex
  readonly depth: number
  active: boolean
}

/**
 * Opens a PostgreSQL adapter on a `pg` pool. Calls outside a transaction use any pooled
 * connection; `transaction(fn)` pins one connection for `fn`, and nested calls are savepoints.
 *
 * @example
 * const db = createPostgresAdapter({ connectionString: 'postgres://app@localhost/app' })
 */
export function createPostgresAdapter(config: PostgresConfig): StorageAdapter {
  if (typeof config !== 'object' || config === null) {
    throw new StorageError('INVALID_ARGUMENT', 'createPostgresAdapter needs { connectionString } or { pool }')
  }
  const parsers = createPgTypeParsers()
  let pool: pg.Pool
  const ownsPool = config.pool === undefined
  if (config.pool !== undefined) {
    if (config.connectionString !== undefined) {
      throw new StorageError('INVALID_ARGUMENT', 'Give either connectionString or pool, not both')
    }
    if (config.searchPath !== undefined) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'searchPath only applies to pools the adapter makes; set it on your pool',
      )
    }
    pool = config.pool
  } else {
    if (typeof config.connectionString !== 'string' || config.connectionString.length === 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'createPostgresAdapter needs a connectionString (postgres://…) or a pool',
      )
    }
    pool = new pg.Pool({
      connectionString: config.connectionString,
      max: config.max ?? 10,
      ssl: config.ssl,
      statement_timeout: config.statementTimeout,
      application_name: config.applicationName ?? 'engram',
      connectionTimeoutMillis: config.connectTimeout ?? 10_000,
      options: searchPathOption(config.searchPath),
      types: parsers,
    })
    // An idle connection that dies is dropped by the pool; without a listener it would crash the process.
    pool.on('error', () => undefined)
  }
  const target = connectionTarget(config.connectionString, pool)
  const shared: Shared = {
    pool,
    ownsPool,
    parsers,
    target: describeTarget(target),
    password: target.password,
    closing: undefined,
    running: 0,
    idle: undefined,
  }
  return new PostgresAdapter(shared, undefined)
}

function searchPathOption(searchPath: string | readonly string[] | undefined): string | undefined {
  if (searchPath === undefined) return undefined
  const schemas = typeof searchPath === 'string' ? [searchPath] : searchPath
  if (schemas.length === 0) return undefined
  for (const schema of schemas) {
    if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `searchPath entry ${JSON.stringify(schema)} is not a plain schema name (letters, digits, _ and $)`,
      )
    }
  }
  return `-c search_path=${schemas.map((s) => `"${s}"`).join(',')}`
}

class PostgresAdapter implements StorageAdapter {
  readonly kind = 'postgres'
  readonly dialect = 'postgres' as const
  readonly capabilities = CAPABILITIES
  readonly #shared: Shared
  /** The transaction level this handle belongs to; `undefined` for the pooled root adapter. */
  readonly #scope: Scope | undefined

  constructor(shared: Shared, scope: Scope | undefined) {
    this.#shared = shared
    this.#scope = scope
  }

  async exec(sql: string): Promise<void> {
    this.#checkOpen()
    if (typeof sql !== 'string') throw badSql()
    // No parameters: the simple query protocol, which runs several statements in one round trip.
    await this.#withClient(sql, (client) => client.query(sql))
  }

  async run(sql: string, params?: SqlParams): Promise<RunResult> {
    const result = await this.#query(sql, params)
    return { changes: CHANGE_COMMANDS.has(result.command) ? (result.rowCount ?? 0) : 0 }
  }

  async get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    const row = (await this.#query(sql, params)).rows[0]
    return row === undefined ? undefined : (normalizeRow(row) as T)
  }

  async all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    const rows = (await this.#query(sql, params)).rows
    for (let i = 0; i < rows.length; i++) normalizeRow(rows[i] as Row)
    return rows as T[]
  }

  async *iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    const { text, values } = this.#prepare(sql, params)
    const release = this.#enter()
    try {
      yield* this.#stream<T>(sql, text, values)
    } finally {
      release()
    }
  }

  async transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    this.#checkOpen()
    if (typeof fn !== 'function') throw new StorageError('INVALID_ARGUMENT', 'transaction() needs a callback')
    const scope = this.#scope
    if (scope !== undefined) return this.#savepoint(scope, fn)
    const release = this.#enter()
    try {
      return await this.#begin(fn)
    } finally {
      release()
    }
  }

  async close(): Promise<void> {
    if (this.#scope !== undefined) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'A transaction handle cannot be closed; the transaction ends with its callback',
      )
    }
    const shared = this.#shared
    shared.closing ??= (async () => {
      // Calls made before close() may finish; the pool ends once they have.
      if (shared.running > 0) await new Promise<void>((resolve) => (shared.idle = resolve))
      if (shared.ownsPool) await shared.pool.end()
    })()
    return shared.closing
  }

  // ---- statements -------------------------------------------------------------------------

  #prepare(sql: string, params: SqlParams | undefined): { text: string; values: unknown[] } {
    this.#checkOpen()
    if (typeof sql !== 'string') throw badSql()
    const compiled = compileSql(sql, 'postgres')
    return { text: compiled.text, values: bindParams(compiled, params, 'postgres') }
  }

  async #query(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult<Row>> {
    const { text, values } = this.#prepare(sql, params)
    // Extended protocol even without parameters, so one call can never run a second, smuggled statement.
    const query = { text, values, types: this.#types(values), queryMode: 'extended' } as pg.QueryConfig
    return this.#withClient(sql, (client) => client.query<Row>(query))
  }

  /** Per-query type parsers, carrying the parameter type OIDs pg sends with Parse. */
  #types(values: readonly unknown[]): PgTypeParsers {
    const oids = parameterTypes(values)
    // pg reads `types` both as the row parsers and as the Parse message's parameter types.
    return oids === undefined ? this.#shared.parsers : Object.assign(oids, this.#shared.parsers)
  }

  /** Runs `call` on this transaction's client, or on a pooled client at the root. */
  async #withClient<T>(sql: string, call: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const scope = this.#scope
    if (scope !== undefined) {
      await this.#lock(scope)
      try {
        return await call(scope.pin.client)
      } catch (error) {
        if (isConnectionLevelError(error)) scope.pin.broken ??= error
        throw this.#error(error, sql)
      } finally {
        scope.mutex.release()
      }
    }
    const release = this.#enter()
    try {
      const client = await this.#connect()
      let failure: unknown
      try {
        return await call(client)
      } catch (error) {
        failure = error
        throw this.#error(error, sql)
      } finally {
        client.release(
          failure !== undefined && isConnectionLevelError(failure) ? asError(failure) : undefined,
        )
      }
    } finally {
      release()
    }
  }

  async *#stream<T>(sql: string, text: string, values: unknown[]): AsyncGenerator<T> {
    const scope = this.#scope
    let client: pg.PoolClient
    if (scope !== undefined) {
      await this.#lock(scope)
      client = scope.pin.client
    } else {
      client = await this.#connect()
    }
    const cursor = new Cursor(text, values, { types: this.#shared.parsers })
    typeParameters(cursor, parameterTypes(values))
    let failure: unknown
    try {
      client.query(cursor)
      while (true) {
        let rows: Row[]
        try {
          rows = await cursor.read(CURSOR_BATCH)
        } catch (error) {
          failure = error
          throw this.#error(error, sql)
        }
        if (rows.length === 0) return
        for (const row of rows) yield normalizeRow(row) as T
      }
    } finally {
      // Breaking out early closes the portal so the connection can run the next statement.
      if (failure === undefined) {
        try {
          await cursor.close()
        } catch (error) {
          failure = error
        }
      }
      const broken = failure !== undefined && isConnectionLevelError(failure)
      if (scope !== undefined) {
        if (broken) scope.pin.broken ??= failure
        scope.mutex.release()
      } else {
        client.release(broken ? asError(failure) : undefined)
      }
    }
  }

  // ---- transactions -----------------------------------------------------------------------

  async #begin<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    const client = await this.#connect()
    const pin: Pin = { client, broken: undefined }
    // A checked-out client that loses its connection emits 'error'; without a listener that crashes the process.
    const onError = (error: unknown): void => {
      pin.broken ??= error
    }
    client.on('error', onError)
    const scope: Scope = { pin, mutex: new Mutex(), depth: 1, active: true }
    try {
      await this.#control(pin, 'BEGIN')
      let result: T
      try {
        result = await fn(new PostgresAdapter(this.#shared, scope))
        await finish(scope)
      } catch (error) {
        await finish(scope)
        await this.#quietly(pin, 'ROLLBACK')
        throw error
      }
      const commit = await this.#control(pin, 'COMMIT')
      if (commit.command === 'ROLLBACK') {
        // COMMIT of an aborted transaction rolls back silently; the caller must not think it was saved.
        throw new StorageError(
          'QUERY_FAILED',
          'The transaction was rolled back because a statement inside it failed; catch errors in a nested tx.transaction() to keep the rest',
          { sql: 'COMMIT' },
        )
      }
      return result
    } catch (error) {
      if (scope.active || (error instanceof StorageError && error.sql === 'COMMIT')) {
        // BEGIN or COMMIT failed: make sure nothing is left open on the connection.
        await this.#quietly(pin, 'ROLLBACK')
      }
      throw error
    } finally {
      scope.active = false
      client.off('error', onError)
      client.release(pin.broken === undefined ? undefined : asError(pin.broken))
    }
  }

  async #savepoint<T>(scope: Scope, fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    await this.#lock(scope)
    const name = `engram_sp_${scope.depth}`
    const inner: Scope = { pin: scope.pin, mutex: new Mutex(), depth: scope.depth + 1, active: true }
    try {
      await this.#control(scope.pin, `SAVEPOINT ${name}`)
      let result: T
      try {
        result = await fn(new PostgresAdapter(this.#shared, inner))
        await finish(inner)
      } catch (error) {
        await finish(inner)
        await this.#quietly(scope.pin, `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`)
        throw error
      }
      await this.#control(scope.pin, `RELEASE SAVEPOINT ${name}`)
      return result
    } finally {
      inner.active = false
      scope.mutex.release()
    }
  }

  async #control(pin: Pin, sql: string): Promise<pg.QueryResult> {
    try {
      return await pin.client.query(sql)
    } catch (error) {
      if (isConnectionLevelError(error)) pin.broken ??= error
      throw this.#error(error, sql)
    }
  }

  /** Undoes a transaction; its own failure must never hide the error that caused it, but it does retire the client. */
  async #quietly(pin: Pin, sql: string): Promise<void> {
    try {
      await pin.client.query(sql)
    } catch (error) {
      pin.broken ??= error
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#shared.pool.connect()
    } catch (error) {
      if (this.#shared.pool.ending) throw closedError()
      const { target, password } = this.#shared
      let reason = error instanceof Error ? error.message : String(error)
      if (password) reason = reason.split(password).join('***')
      throw new StorageError(
        postgresErrorCode(error) === 'QUERY_FAILED' ? 'CONNECTION_FAILED' : postgresErrorCode(error),
        `Could not connect to PostgreSQL at ${target}: ${reason}. Check that the server is running and that the host, port, user, database and TLS settings are right.`,
        { cause: error },
      )
    }
  }

  /** Counts a root-level call as running, so `close()` waits for it; returns the matching release. */
  #enter(): () => void {
    this.#checkOpen()
    const shared = this.#shared
    if (this.#scope !== undefined) return () => undefined
    shared.running++
    return () => {
      if (--shared.running === 0) shared.idle?.()
    }
  }

  async #lock(scope: Scope): Promise<void> {
    if (!scope.mutex.tryAcquire()) await scope.mutex.acquire()
    if (!scope.active) {
      scope.mutex.release()
      throw finishedError()
    }
  }

  #checkOpen(): void {
    if (this.#scope !== undefined) {
      if (!this.#scope.active) throw finishedError()
      return
    }
    if (this.#shared.closing !== undefined) throw closedError()
  }

  #error(error: unknown, sql: string): StorageError {
    if (error instanceof StorageError) return error
    const message = error instanceof Error ? error.message : String(error)
    return new StorageError(postgresErrorCode(error), message, { cause: error, sql })
  }
}

/** Makes pg-cursor send parameter types with its Parse message, as plain queries do. */
function typeParameters(cursor: Cursor, types: number[] | undefined): void {
  if (types === undefined) return
  const submit = cursor.submit.bind(cursor)
  cursor.submit = (connection) => {
    const target = connection as unknown as { parse(message: object, more?: boolean): void }
    const parse = target.parse
    target.parse = (message, more) => parse.call(connection, { ...message, types }, more)
    try {
      submit(connection)
    } finally {
      target.parse = parse
    }
  }
}

/** Waits for calls still running in a finished callback's scope, then turns the scope off. */
async function finish(scope: Scope): Promise<void> {
  await scope.mutex.acquire()
  scope.active = false
  scope.mutex.release()
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

function badSql(): StorageError {
  return new StorageError('INVALID_ARGUMENT', 'SQL must be a string')
}

function closedError(): StorageError {
  return new StorageError('CLOSED', 'The postgres adapter is closed')
}

function finishedError(): StorageError {
  return new StorageError(
    'CLOSED',
    'This transaction has already finished; use the adapter outside its callback',
  )
}
