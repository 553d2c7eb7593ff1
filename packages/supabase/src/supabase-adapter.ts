import { isStorageError, type SqlParams, type StorageAdapter, StorageError } from '@engram/core'
import { createPostgresAdapter, describeTarget } from '@engram/postgres'
import type pg from 'pg'
import { type CertificateAuthority, type SupabasePooler, supabaseConnection } from './supabase-connection.js'

/** Options for `createSupabaseAdapter`. */
export interface SupabaseAdapterConfig {
  /**
   * The connection string from the dashboard (Connect): the direct connection
   * (`db.<ref>.supabase.co:5432`), the session pooler (`<region>.pooler.supabase.com:5432`) or
   * the transaction pooler (port 6543).
   */
  connectionString: string
  /**
   * The certificate authority to trust, as PEM: Supabase's root certificate, downloaded from
   * Project Settings, Database, SSL configuration. Default is Node's list of public CAs.
   */
  ca?: CertificateAuthority
  /** `false` connects without TLS, for a local PostgreSQL only. Default is `true`: TLS with the certificate and host name verified. */
  tls?: boolean
  /** The pooler the connection goes through. Default is detected: port 6543 is the transaction pooler, `*.pooler.supabase.com` otherwise the session pooler. */
  pooler?: SupabasePooler
  /** Most connections the pool opens. Default is `10`. */
  max?: number
  /** How long to wait for a new connection, in milliseconds, before `CONNECTION_FAILED`. Default is `10000`. */
  connectTimeout?: number
  /** Shown in `pg_stat_activity.application_name`. Default is `'engram'`. */
  applicationName?: string
  /** Cancel statements running longer than this (`TIMEOUT`); refused on the transaction pooler. Default is the role's setting. */
  statementTimeout?: number
  /** Schemas for unqualified table names (sets `search_path`); refused on the transaction pooler. Default is the role's. */
  searchPath?: string | readonly string[]
}

/** A `StorageAdapter` on Supabase's Postgres. */
export interface SupabaseAdapter extends StorageAdapter {
  /** The pooler the connection goes through: `'transaction'` (port 6543), `'session'` or `'none'` (direct). */
  readonly pooler: SupabasePooler
}

/** Node's codes for a certificate that did not verify. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
])

/** Rewrites a TLS failure at connection time into an error that says what to pass. */
function explainer(where: string): (error: unknown) => unknown {
  return (error) => {
    if (!isStorageError(error, 'CONNECTION_FAILED')) return error
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined
    const code = typeof cause?.code === 'string' ? cause.code : ''
    const message = typeof cause?.message === 'string' ? cause.message : ''
    if (/does not support SSL/i.test(message)) {
      return new StorageError(
        'CONNECTION_FAILED',
        `Could not connect to ${where}: the server does not offer TLS. Supabase's servers always do, so check the host and port; for a local PostgreSQL without TLS, pass tls: false.`,
        { cause: error.cause },
      )
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new StorageError(
        'CONNECTION_FAILED',
        `Could not connect to ${where}: its TLS certificate is for another host (${message}). Use the host name the dashboard shows (Connect).`,
        { cause: error.cause },
      )
    }
    if (CERTIFICATE_CODES.has(code)) {
      return new StorageError(
        'CONNECTION_FAILED',
        `Could not connect to ${where}: its TLS certificate did not verify (${code}: ${message}). Pass ca with Supabase's root certificate (Project Settings, Database, SSL configuration, Download certificate), for example ca: readFileSync('prod-ca-2021.crt', 'utf8'); see docs/supabase.md.`,
        { cause: error.cause },
      )
    }
    return error
  }
}

/** The adapter with connection errors explained, reporting `kind: 'supabase'`; transactions are wrapped the same way. */
function withExplanations(
  inner: StorageAdapter,
  pooler: SupabasePooler,
  explain: (error: unknown) => unknown,
): SupabaseAdapter {
  const rethrow = (error: unknown): never => {
    throw explain(error)
  }
  return {
    kind: 'supabase',
    dialect: inner.dialect,
    capabilities: inner.capabilities,
    pooler,
    exec: (sql: string) => inner.exec(sql).catch(rethrow),
    run: (sql: string, params?: SqlParams) => inner.run(sql, params).catch(rethrow),
    get: <T>(sql: string, params?: SqlParams) => inner.get<T>(sql, params).catch(rethrow),
    all: <T>(sql: string, params?: SqlParams) => inner.all<T>(sql, params).catch(rethrow),
    async *iterate<T>(sql: string, params?: SqlParams): AsyncIterable<T> {
      try {
        yield* inner.iterate<T>(sql, params)
      } catch (error) {
        rethrow(error)
      }
    },
    transaction: <T>(fn: (tx: StorageAdapter) => Promise<T>) =>
      inner.transaction((tx) => fn(withExplanations(tx, pooler, explain))).catch(rethrow),
    close: () => inner.close(),
  }
}

/**
 * Opens a `StorageAdapter` on a Supabase project's Postgres: the Postgres driver with Supabase's
 * defaults. TLS is on and verified (certificate and host name) unless you pass `tls: false`;
 * a server without TLS, or a certificate that does not verify, is a `CONNECTION_FAILED` that
 * says what to pass. Through the transaction pooler (port 6543) it uses only unnamed
 * statements and no session settings: `statementTimeout` and `searchPath` are refused there.
 *
 * @example
 * const db = createSupabaseAdapter({
 *   connectionString: process.env.SUPABASE_DB_URL!,
 *   ca: readFileSync('prod-ca-2021.crt', 'utf8'),
 * })
 */
export function createSupabaseAdapter(config: SupabaseAdapterConfig): SupabaseAdapter {
  if (typeof config !== 'object' || config === null) {
    throw new StorageError('INVALID_ARGUMENT', 'createSupabaseAdapter needs { connectionString }')
  }
  const connection = supabaseConnection(config)
  const inner = createPostgresAdapter({
    connectionString: connection.connectionString,
    ssl: connection.ssl as pg.PoolConfig['ssl'],
    ...(config.max === undefined ? {} : { max: config.max }),
    ...(config.connectTimeout === undefined ? {} : { connectTimeout: config.connectTimeout }),
    ...(config.applicationName === undefined ? {} : { applicationName: config.applicationName }),
    ...(config.statementTimeout === undefined ? {} : { statementTimeout: config.statementTimeout }),
    ...(config.searchPath === undefined ? {} : { searchPath: config.searchPath }),
  })
  const url = new URL(connection.connectionString)
  const database = decodeURIComponent(url.pathname.slice(1))
  const where = describeTarget({
    host: decodeURIComponent(url.hostname) || 'localhost',
    port: Number(url.port) || 5432,
    ...(database ? { database } : {}),
  })
  return withExplanations(inner, connection.pooler, explainer(where))
}
