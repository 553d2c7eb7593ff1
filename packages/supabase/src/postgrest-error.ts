import { StorageError, type StorageErrorCode } from '@engram/core'
import { postgresErrorCode } from '@engram/postgres'

/** An error as supabase-js reports it: PostgREST's body (or a fetch failure), with the HTTP status. */
export interface PostgrestErrorLike {
  /** PostgREST's or PostgreSQL's message. */
  message?: string
  /** A SQLSTATE, a `PGRST…` code, or `''`. */
  code?: string
  /** PostgreSQL's DETAIL; engram's functions put `engram:<CODE>` here. */
  details?: string | null
  /** PostgreSQL's HINT. */
  hint?: string | null
}

/** Which call failed, for the message. */
export interface RpcContext {
  /** The function. */
  readonly fn: string
  /** The schema it was called in. */
  readonly schema: string
}

const CODES: ReadonlySet<string> = new Set<StorageErrorCode>([
  'UNIQUE_VIOLATION',
  'FOREIGN_KEY_VIOLATION',
  'NOT_NULL_VIOLATION',
  'CHECK_VIOLATION',
  'SYNTAX_ERROR',
  'NOT_FOUND',
  'BUSY',
  'READONLY',
  'SERIALIZATION_FAILURE',
  'TIMEOUT',
  'CLOSED',
  'INVALID_ARGUMENT',
  'DRIVER_NOT_INSTALLED',
  'CONNECTION_FAILED',
  'UNSUPPORTED',
  'DIMENSION_MISMATCH',
  'QUERY_FAILED',
  'PERSIST_FAILED',
])

const MIGRATION_ADVICE =
  "Apply engram's migration (applySupabaseMigration(adapter), or paste SUPABASE_MIGRATION_SQL into the dashboard's SQL editor) and make sure PostgREST has reloaded its schema cache (NOTIFY pgrst, 'reload schema'); see docs/supabase.md"

function described(error: PostgrestErrorLike): string {
  return [error.message, error.details, error.hint]
    .filter((part) => typeof part === 'string' && part !== '')
    .join(' — ')
}

/**
 * Turns a failed RPC into a `StorageError` with a portable code: engram's own errors (marked
 * `engram:<CODE>` in the details) keep their code and message; PostgREST's `PGRST` codes, the
 * SQLSTATEs PostgreSQL reports and bare HTTP failures get a message that says what to do.
 * The supabase-js error is kept as `cause`.
 */
export function storageErrorFromPostgrest(
  error: PostgrestErrorLike,
  status: number,
  context: RpcContext,
): StorageError {
  const code = typeof error.code === 'string' ? error.code : ''
  const message = typeof error.message === 'string' ? error.message : 'no message'
  const details = typeof error.details === 'string' ? error.details : ''
  const fn = `${context.schema}.${context.fn}`
  const make = (portable: StorageErrorCode, text: string) =>
    new StorageError(portable, text, { cause: error })

  const marked = /^engram:([A-Z_]+)$/.exec(details)?.[1]
  if (marked !== undefined && CODES.has(marked)) return make(marked as StorageErrorCode, message)

  switch (code) {
    case 'PGRST202':
      return make(
        'NOT_FOUND',
        `The SQL function ${fn} is missing from this project's API, or has other parameters (${message}). ${MIGRATION_ADVICE}.`,
      )
    case 'PGRST203':
      return make(
        'QUERY_FAILED',
        `Two versions of ${fn} exist, so PostgREST cannot choose (${message}). Drop the older one (DROP FUNCTION with its old argument types), then reload the schema cache.`,
      )
    case 'PGRST106':
      return make(
        'INVALID_ARGUMENT',
        `The API does not expose schema "${context.schema}" (${error.hint ?? message}). Add it under Project Settings, API, Exposed schemas, or use the schema the migration put the functions in.`,
      )
    case 'PGRST301':
    case 'PGRST302':
    case 'PGRST303':
      return make(
        'CONNECTION_FAILED',
        `Supabase refused the token (${described(error)}). Check the key, and refresh the user's session if it expired.`,
      )
  }
  if (/^PGRST0/.test(code)) {
    return make(
      'CONNECTION_FAILED',
      `Supabase's API could not reach its database (${described(error)}); try again, and check the project's status in the dashboard.`,
    )
  }
  if (/^PGRST/.test(code))
    return make('QUERY_FAILED', `PostgREST refused the call to ${fn}: ${described(error)}`)
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (code === '42501') {
      return make(
        'QUERY_FAILED',
        `The role of this key or token may not do this (${message}). engram's functions are for signed-in users (an access token) and the service role; the anon key alone cannot use them.`,
      )
    }
    if (code === '42883') return make('NOT_FOUND', `${message}. ${MIGRATION_ADVICE}.`)
    const portable = postgresErrorCode({ code })
    return make(portable, `${fn} failed: ${described(error)}`)
  }
  if (status === 0) {
    return make(
      'CONNECTION_FAILED',
      `Could not reach Supabase (${described(error)}). Check the project URL and the network.`,
    )
  }
  if (status === 401 || status === 403) {
    return make(
      'CONNECTION_FAILED',
      `Supabase refused the request with HTTP ${status} (${described(error)}). Check the project URL and API key.`,
    )
  }
  if (status >= 500) {
    return make(
      'CONNECTION_FAILED',
      `Supabase answered HTTP ${status} (${described(error)}); try again, and check the project's status in the dashboard.`,
    )
  }
  return make('QUERY_FAILED', `${fn} failed with HTTP ${status}: ${described(error)}`)
}
