/** PostgREST's error body: PostgreSQL's fields, or a `PGRSTgxx` code of its own. */
export interface PostgrestErrorBody {
  /** A SQLSTATE, or a PostgREST code such as `PGRST202`. */
  code: string
  /** What went wrong. */
  message: string
  /** More about it, or `null`. */
  details: string | null
  /** What to try, or `null`. */
  hint: string | null
}

/** A PostgREST error response: status, body and extra headers. */
export interface PostgrestFailure {
  /** The HTTP status. */
  readonly status: number
  /** The JSON body. */
  readonly body: PostgrestErrorBody | Record<string, unknown>
  /** Headers beyond the content type. */
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * The HTTP status PostgREST answers a PostgreSQL error with (its `mapSQLtoHTTP`). `authed` is
 * whether the request's role is not the anonymous one: insufficient privilege is 403 for a
 * signed-in role and 401 for anon.
 */
export function statusForSqlState(code: string, message: string, authed: boolean): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    '53400': 500,
    '57P01': 503,
    P0001: 400,
    '42P01': 404,
    '42P17': 500,
  }
  if (code === '42501') return authed ? 403 : 401
  if (code === '42883') return message.startsWith('function xmlagg(') ? 406 : 404
  if (code === '21000') return message.endsWith('requires a WHERE clause') ? 400 : 500
  if (code === '22023') return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400
  const known = exact[code]
  if (known !== undefined) return known
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2))
  const byClass: Record<string, number> = {
    '08': 503,
    '09': 500,
    '0L': 403,
    '0P': 403,
    '25': 500,
    '28': 403,
    '2D': 500,
    '38': 500,
    '39': 500,
    '3B': 500,
    '40': 500,
    '53': 503,
    '54': 500,
    '55': 500,
    '57': 500,
    '58': 500,
    F0: 500,
    HV: 500,
    P0: 500,
    XX: 500,
  }
  return byClass[code.slice(0, 2)] ?? 400
}

/** The failure for a PostgreSQL error, with PostgreSQL's message, detail and hint. */
export function databaseFailure(error: unknown, authed: boolean): PostgrestFailure {
  const { code, message, detail, hint } = error as {
    code?: unknown
    message?: unknown
    detail?: unknown
    hint?: unknown
  }
  const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
  if (sqlstate === undefined) {
    // Not a server error: the connection to PostgreSQL itself failed.
    return {
      status: 503,
      body: { code: 'PGRST000', message: 'Database connection error.', details: String(message), hint: null },
    }
  }
  const text = typeof message === 'string' ? message : String(message)
  const status = statusForSqlState(sqlstate, text, authed)
  return {
    status,
    body: {
      code: sqlstate,
      message: text,
      details: typeof detail === 'string' ? detail : null,
      hint: typeof hint === 'string' ? hint : null,
    },
    ...(status === 401 ? { headers: { 'WWW-Authenticate': 'Bearer' } } : {}),
  }
}

/** PGRST106: the schema asked for with Accept-Profile or Content-Profile is not exposed. */
export function unacceptableSchema(schema: string, exposed: readonly string[]): PostgrestFailure {
  return {
    status: 406,
    body: {
      code: 'PGRST106',
      message: `Invalid schema: ${schema}`,
      details: null,
      hint: `Only the following schemas are exposed: ${exposed.join(', ')}`,
    },
  }
}

/** PGRST102: the body is not JSON PostgREST can take the arguments from. */
export function invalidBody(details: string): PostgrestFailure {
  return { status: 400, body: { code: 'PGRST102', message: 'Empty or invalid json', details, hint: null } }
}

/** PGRST101: a verb functions cannot be called with. */
export function unsupportedVerb(method: string): PostgrestFailure {
  return {
    status: 405,
    body: { code: 'PGRST101', message: `Cannot use the ${method} method on RPC`, details: null, hint: null },
  }
}
