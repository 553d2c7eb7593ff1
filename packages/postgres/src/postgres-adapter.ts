import {
  booleanOption,
  createConnectionAdapter,
  integerOption,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
} from '@engram/core'
import pg from 'pg'
import { connectionTarget, describeTarget } from './connection-target.js'
import { createPgTypeParsers } from './pg-type-parsers.js'
import { type PostgresConnection, postgresPool } from './postgres-connection.js'
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
  /**
   * Give each statement with parameters a name, so every connection parses and plans it once and
   * later calls only bind and run it (server-side prepared statements, at most 256 per connection;
   * statements past that run unnamed). Leave it off behind a pooler in transaction mode (PgBouncer
   * before 1.21, Supavisor), which hands each statement to any server connection, and after
   * `DEALLOCATE` or `DISCARD ALL` of your own. A `SELECT *` prepared before a migration adds a
   * column to its table fails on that connection ("cached plan must not change result type"):
   * name the columns. Default is `false`.
   */
  preparedStatements?: boolean
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/

const CAPABILITIES: StorageCapabilities = Object.freeze({
  fts: 'tsvector',
  json: true,
  returning: true,
  savepoints: true,
  lastInsertRowid: false,
  concurrency: 'pool',
  persistence: 'server',
})

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
  const prepared = booleanOption(config.preparedStatements, false, 'preparedStatements')
  const max = integerOption(config.max, 10, 'max')
  const connectTimeout = integerOption(config.connectTimeout, 10_000, 'connectTimeout', 0)
  const statementTimeout =
    config.statementTimeout === undefined
      ? undefined
      : integerOption(config.statementTimeout, 0, 'statementTimeout', 0)
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
      max,
      ssl: config.ssl,
      statement_timeout: statementTimeout,
      application_name: config.applicationName ?? 'engram',
      connectionTimeoutMillis: connectTimeout,
      options: searchPathOption(config.searchPath),
      types: parsers,
    })
    // An idle connection that dies is dropped by the pool; without a listener it would crash the process.
    pool.on('error', () => undefined)
  }
  const target = connectionTarget(config.connectionString, pool)
  return createConnectionAdapter({
    kind: 'postgres',
    dialect: 'postgres',
    capabilities: CAPABILITIES,
    pool: postgresPool({
      pool,
      owned: ownsPool,
      parsers,
      prepared,
      target: describeTarget(target),
      password: target.password,
    }),
    errorCode: postgresErrorCode,
    connectionLost: isConnectionLevelError,
    commit: (connection) => (connection as PostgresConnection).commit(),
  })
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
