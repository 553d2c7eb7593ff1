import type pg from 'pg'

/** Where a pool connects, for error messages. */
export interface ConnectionTarget {
  /** Host name, IP address or socket folder. */
  host: string
  /** TCP port. */
  port: number
  /** Database name, when known. */
  database?: string
  /** The password, kept only so it can be scrubbed from messages; never printed. */
  password?: string
}

/**
 * Works out the host and port a pool connects to, as pg does: the URL first, then the pool's
 * options, then PGHOST/PGPORT, then localhost:5432.
 */
export function connectionTarget(connectionString: string | undefined, pool: pg.Pool): ConnectionTarget {
  const options = (pool as unknown as { options?: pg.PoolConfig }).options ?? {}
  let host = typeof options.host === 'string' ? options.host : undefined
  let port = typeof options.port === 'number' ? options.port : undefined
  let database = options.database
  let password = typeof options.password === 'string' ? options.password : undefined
  const url = connectionString ?? options.connectionString
  if (url !== undefined) {
    try {
      const parsed = new URL(url)
      host = decodeURIComponent(parsed.hostname) || parsed.searchParams.get('host') || host
      port = parsed.port ? Number(parsed.port) : port
      database = decodeURIComponent(parsed.pathname.slice(1)) || database
      password = parsed.password ? decodeURIComponent(parsed.password) : password
    } catch {
      // Not a URL (a libpq key=value string): fall back to the defaults below.
    }
  }
  const target: ConnectionTarget = {
    host: host || process.env.PGHOST || 'localhost',
    port: port || Number(process.env.PGPORT) || 5432,
  }
  if (database) target.database = database
  if (password) target.password = password
  return target
}

/** `host:port (database "name")`, for messages; leaves the password out. */
export function describeTarget(target: ConnectionTarget): string {
  const where = `${target.host}:${target.port}`
  return target.database ? `${where} (database "${target.database}")` : where
}
