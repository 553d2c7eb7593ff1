import type { Row, RunResult, SqlConnection, SqlConnectionPool } from '@engram/core'
import { StorageError } from '@engram/core'
import type pg from 'pg'
import Cursor from 'pg-cursor'
import { type PgTypeParsers, parameterTypes } from './pg-type-parsers.js'
import { postgresErrorCode } from './postgres-error-code.js'

/** Rows read per round trip by `iterate()`. */
const CURSOR_BATCH = 500
/** Named statements per connection with `preparedStatements`; statements past these run unnamed. */
const NAMED_PER_CONNECTION = 256
/** Each pooled client's statement names, by text and then by parameter types, and how many it has. */
const statementNames = new WeakMap<object, { count: number; byText: Map<string, Map<string, string>> }>()
const CHANGE_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE'])

/**
 * One checked-out `pg` client behind core's `SqlConnection`. It listens for the client's
 * `'error'` event for as long as it is checked out: a backend that dies between statements
 * (or under a cursor) would otherwise crash the process with an unhandled event.
 */
export class PostgresConnection implements SqlConnection {
  /** The connection-level error the client reported while checked out, if any. */
  broken: unknown
  readonly #client: pg.PoolClient
  readonly #parsers: PgTypeParsers
  /** Whether statements with parameters are named (prepared once per connection). */
  readonly #prepared: boolean
  readonly #onError = (error: unknown): void => {
    this.broken ??= error
  }

  constructor(client: pg.PoolClient, parsers: PgTypeParsers, prepared = false) {
    this.#client = client
    this.#parsers = parsers
    this.#prepared = prepared
    client.on('error', this.#onError)
  }

  /** No parameters: the simple query protocol, which runs several statements in one round trip. */
  async exec(sql: string): Promise<void> {
    this.#checkAlive()
    await this.#client.query(sql)
  }

  async run(sql: string, params: unknown[]): Promise<RunResult> {
    const result = await this.#query(sql, params)
    return { changes: CHANGE_COMMANDS.has(result.command) ? (result.rowCount ?? 0) : 0 }
  }

  async get(sql: string, params: unknown[]): Promise<Row | undefined> {
    return (await this.#query(sql, params)).rows[0]
  }

  async all(sql: string, params: unknown[]): Promise<Row[]> {
    return (await this.#query(sql, params)).rows
  }

  iterate(sql: string, params: unknown[]): AsyncIterator<Row> {
    this.#checkAlive()
    const cursor = new Cursor(sql, params, { types: this.#parsers })
    typeParameters(cursor, parameterTypes(params))
    this.#client.query(cursor)
    let rows: Row[] = []
    let next = 0
    let finished = false
    return {
      next: async (): Promise<IteratorResult<Row>> => {
        if (next === rows.length && !finished) {
          rows = await cursor.read(CURSOR_BATCH)
          next = 0
          finished = rows.length === 0
        }
        if (finished) return { done: true, value: undefined }
        return { done: false, value: rows[next++] as Row }
      },
      // Leaving the loop early closes the portal so the connection can run the next statement.
      return: async (): Promise<IteratorResult<Row>> => {
        finished = true
        if (this.broken === undefined) await cursor.close()
        return { done: true, value: undefined }
      },
    }
  }

  /** Runs COMMIT and fails when the server rolled back instead (it does so silently for an aborted transaction). */
  async commit(): Promise<void> {
    this.#checkAlive()
    const result = await this.#client.query('COMMIT')
    if (result.command === 'ROLLBACK') {
      throw new StorageError(
        'QUERY_FAILED',
        'The transaction was rolled back because a statement inside it failed; catch errors in a nested tx.transaction() to keep the rest',
        { sql: 'COMMIT' },
      )
    }
  }

  /** Stops listening and returns the client to its pool, destroying it when its connection broke. */
  release(failure: unknown): void {
    this.#client.off('error', this.#onError)
    const broken = failure ?? this.broken
    this.#client.release(broken === undefined ? undefined : asError(broken))
  }

  #query(sql: string, params: unknown[]): Promise<pg.QueryResult<Row>> {
    this.#checkAlive()
    // Extended protocol even without parameters, so one call can never run a second, smuggled statement.
    const oids = parameterTypes(params)
    // pg reads `types` both as the row parsers and as the Parse message's parameter types.
    const types = oids === undefined ? this.#parsers : Object.assign(oids, this.#parsers)
    const query = { text: sql, values: params, types, queryMode: 'extended' } as pg.QueryConfig
    if (this.#prepared && params.length > 0) {
      const name = this.#statementName(sql, oids)
      if (name !== undefined) query.name = name
    }
    return this.#client.query<Row>(query)
  }

  /**
   * The name this connection's statement of `sql` with these parameter types has (pg parses a
   * named statement only the first time); `undefined` once the connection has its share of names.
   */
  #statementName(sql: string, oids: number[] | undefined): string | undefined {
    let names = statementNames.get(this.#client)
    if (names === undefined) {
      names = { count: 0, byText: new Map() }
      statementNames.set(this.#client, names)
    }
    // The same text with other parameter types is another statement: its Parse message differs.
    let byTypes = names.byText.get(sql)
    const types = oids === undefined ? '' : oids.join(',')
    const name = byTypes?.get(types)
    if (name !== undefined || names.count >= NAMED_PER_CONNECTION) return name
    if (byTypes === undefined) {
      byTypes = new Map()
      names.byText.set(sql, byTypes)
    }
    names.count++
    const next = `engram_${names.count}`
    byTypes.set(types, next)
    return next
  }

  #checkAlive(): void {
    if (this.broken !== undefined) throw this.broken
  }
}

/** Options for the pool behind a Postgres adapter. */
export interface PostgresPoolOptions {
  /** The `pg` pool. */
  pool: pg.Pool
  /** Whether `close()` ends it (the adapter made it). */
  owned: boolean
  /** Type parsers for every connection. */
  parsers: PgTypeParsers
  /** Name statements with parameters, so each connection prepares them once. */
  prepared: boolean
  /** `host:port (database …)`, for connection errors; never holds the password. */
  target: string
  /** The password, scrubbed from connection errors. */
  password: string | undefined
}

/** A `pg.Pool` as core's `SqlConnectionPool`: check out, give back (destroying broken clients), end. */
export function postgresPool(options: PostgresPoolOptions): SqlConnectionPool<PostgresConnection> {
  const { pool, owned, parsers, prepared, target, password } = options
  return {
    async acquire() {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (error) {
        if (pool.ending) throw new StorageError('CLOSED', 'The postgres adapter is closed')
        let reason = error instanceof Error ? error.message : String(error)
        if (password) reason = reason.split(password).join('***')
        const code = postgresErrorCode(error)
        throw new StorageError(
          code === 'QUERY_FAILED' ? 'CONNECTION_FAILED' : code,
          `Could not connect to PostgreSQL at ${target}: ${reason}. Check that the server is running and that the host, port, user, database and TLS settings are right.`,
          { cause: error },
        )
      }
      return new PostgresConnection(client, parsers, prepared)
    },
    release(connection, failure) {
      connection.release(failure)
    },
    async close() {
      if (owned) await pool.end()
    },
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
