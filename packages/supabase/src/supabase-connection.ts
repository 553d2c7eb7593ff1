import { booleanOption, StorageError } from '@engram/core'

/** Which connection path a Supabase connection string takes. */
export type SupabasePooler = 'transaction' | 'session' | 'none'

/** The PEM certificate(s) a verified TLS connection trusts. */
export type CertificateAuthority = string | Uint8Array | ReadonlyArray<string | Uint8Array>

/** What `supabaseConnection` needs from the adapter's options. */
export interface SupabaseConnectionOptions {
  /** The `postgres://` URL. */
  connectionString: string
  /** The CA to trust; Node's own list when absent. */
  ca?: CertificateAuthority
  /** `false` connects without TLS. */
  tls?: boolean
  /** The pooler, when detection from the host and port is not wanted. */
  pooler?: SupabasePooler
  /** A session setting, refused on the transaction pooler. */
  statementTimeout?: number
  /** A session setting, refused on the transaction pooler. */
  searchPath?: string | readonly string[]
}

/** The settings the pg pool gets. */
export interface SupabaseConnection {
  /** The URL without the TLS parameters engram decides itself. */
  readonly connectionString: string
  /** pg's `ssl` option: `false`, or verified TLS. */
  readonly ssl: false | { rejectUnauthorized: true; ca?: string | Buffer | Array<string | Buffer> }
  /** The pooler this connection goes through. */
  readonly pooler: SupabasePooler
}

/** Supabase's transaction-mode pooler (Supavisor, or the dedicated PgBouncer) listens on 6543. */
const TRANSACTION_POOLER_PORT = '6543'
const POOLER_HOST = /\.pooler\.supabase\.com$/i
/** URL parameters that set TLS; engram sets TLS itself, so they are checked and removed. */
const TLS_PARAMETERS = [
  'ssl',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslnegotiation',
  'uselibpqcompat',
]
/** URL parameters pg turns into session settings at connection start-up. */
const SESSION_PARAMETERS = [
  'options',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
]

/**
 * Which pooler a host and port mean: port 6543 is the transaction pooler (Supavisor on
 * `*.pooler.supabase.com`, or PgBouncer on the database host), another port on
 * `*.pooler.supabase.com` is the session pooler, anything else a direct connection.
 *
 * @example
 * detectPooler('aws-0-eu-west-1.pooler.supabase.com', 6543) // 'transaction'
 */
export function detectPooler(host: string, port: number | string | undefined): SupabasePooler {
  if (String(port ?? '') === TRANSACTION_POOLER_PORT) return 'transaction'
  return POOLER_HOST.test(host) ? 'session' : 'none'
}

function fail(message: string): never {
  throw new StorageError('INVALID_ARGUMENT', message)
}

function checkTls(url: URL, tls: boolean): void {
  for (const name of TLS_PARAMETERS) {
    const value = url.searchParams.get(name)
    if (value === null) continue
    if (!tls) fail(`The connection string sets ${name}=${value} but tls is false; remove one of them`)
    if (name === 'sslrootcert') {
      fail(
        'Pass the certificate itself as ca (for example ca: readFileSync(path, "utf8")) instead of sslrootcert in the URL',
      )
    }
    if (name === 'sslcert' || name === 'sslkey')
      fail(`Supabase does not use client certificates; remove ${name} from the URL`)
    const weakens =
      (name === 'sslmode' && ['disable', 'allow', 'prefer', 'no-verify'].includes(value)) ||
      (name === 'ssl' && ['false', '0'].includes(value))
    if (weakens) {
      fail(
        `${name}=${value} in the connection string would turn off TLS or its verification; remove it (engram always verifies Supabase's certificate) or, for a local server only, pass tls: false`,
      )
    }
    url.searchParams.delete(name)
  }
}

function checkSessionSettings(url: URL, options: SupabaseConnectionOptions): void {
  const advice =
    'the transaction pooler (port 6543) gives each transaction whichever server connection is free, so session settings do not stick: set it on the role instead (ALTER ROLE … SET …), or connect through the session pooler (port 5432)'
  if (options.statementTimeout !== undefined) fail(`statementTimeout cannot be used here: ${advice}`)
  if (options.searchPath !== undefined) fail(`searchPath cannot be used here: ${advice}`)
  for (const name of SESSION_PARAMETERS) {
    if (url.searchParams.has(name))
      fail(`The connection string's ${name} parameter cannot be used here: ${advice}`)
  }
}

function toBuffers(ca: CertificateAuthority): string | Buffer | Array<string | Buffer> {
  const one = (value: string | Uint8Array): string | Buffer => {
    if (typeof value === 'string') return value
    if (value instanceof Uint8Array) return Buffer.from(value)
    return fail('ca must be PEM text or bytes, or a list of them')
  }
  if (Array.isArray(ca)) {
    if (ca.length === 0) fail('ca is an empty list; give the certificate (PEM) to trust')
    return ca.map(one)
  }
  return one(ca as string | Uint8Array)
}

/**
 * Works out the pg settings for a Supabase connection string: verified TLS (the URL's TLS
 * parameters are checked, never allowed to weaken it, and removed), the pooler, and the
 * refusal of session settings where the transaction pooler cannot keep them.
 */
export function supabaseConnection(options: SupabaseConnectionOptions): SupabaseConnection {
  const { connectionString } = options
  if (typeof connectionString !== 'string' || connectionString.length === 0) {
    fail(
      'createSupabaseAdapter needs a connectionString: postgres://postgres.<ref>:<password>@<host>:<port>/postgres',
    )
  }
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    return fail(
      'The connection string is not a postgres:// URL; copy it from the dashboard (Connect, Connection string)',
    )
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    fail(`The connection string must start with postgres:// or postgresql://, not ${url.protocol}//`)
  }
  const tls = booleanOption(options.tls, true, 'tls')
  if (!tls && options.ca !== undefined)
    fail('ca is given but tls is false; a certificate only matters with TLS')
  const pooler = options.pooler ?? detectPooler(decodeURIComponent(url.hostname), url.port)
  if (!['transaction', 'session', 'none'].includes(pooler)) {
    fail(`pooler must be 'transaction', 'session' or 'none', got ${JSON.stringify(pooler)}`)
  }
  checkTls(url, tls)
  if (pooler === 'transaction') checkSessionSettings(url, options)
  const ssl: SupabaseConnection['ssl'] = !tls
    ? false
    : options.ca === undefined
      ? { rejectUnauthorized: true }
      : { rejectUnauthorized: true, ca: toBuffers(options.ca) }
  return { connectionString: url.toString(), ssl, pooler }
}
