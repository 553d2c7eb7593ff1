import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import {
  databaseFailure,
  invalidBody,
  type PostgrestFailure,
  unacceptableSchema,
  unsupportedVerb,
} from './postgrest-errors.js'
import { type JwtClaims, signJwt, verifyJwt } from './postgrest-jwt.js'
import { callSql, chooseRoutine, loadRoutines, type Routine } from './postgrest-routines.js'

/** Options for `startPostgrestServer`. */
export interface PostgrestServerOptions {
  /** The real PostgreSQL the requests run on; connect as a role that may switch to the request roles (a superuser on a test server). */
  connectionString: string
  /** The HS256 secret tokens are verified with. Default is a random one, shown as `jwtSecret`. */
  jwtSecret?: string
  /** The exposed schemas (PostgREST's `db-schemas`); the first is the default. Default is `['public']`. */
  schemas?: readonly string[]
  /** Schemas added to each request's search path (`db-extra-search-path`). Default is `['public', 'extensions']`, as on Supabase. */
  extraSearchPath?: readonly string[]
  /** The role of requests without a token (`db-anon-role`). Default is `'anon'`. */
  anonRole?: string
  /** The port to listen on, on 127.0.0.1. Default is a free one. */
  port?: number
  /** Connections to PostgreSQL. Default is `8`. */
  poolSize?: number
}

/** A running test server. */
export interface PostgrestServer {
  /** The project URL to give `createClient` (the REST API is under `/rest/v1`). */
  readonly url: string
  /** The `anon` key: a JWT with role `anon`, as Supabase issues it. */
  readonly anonKey: string
  /** The `service_role` key. */
  readonly serviceRoleKey: string
  /** The HS256 secret every token is checked with. */
  readonly jwtSecret: string
  /** Signs any claims with the server's secret. */
  signJwt(claims: JwtClaims): string
  /** A signed-in user's access token (`role: authenticated`, `sub: userId`), valid for an hour unless `claims` say otherwise. */
  userToken(userId: string, claims?: JwtClaims): string
  /** Stops listening and closes the connections. */
  close(): Promise<void>
}

const HOUR = 3600

/**
 * Starts an HTTP server that answers `/rest/v1/rpc/<function>` the way Supabase's API gateway
 * and PostgREST do, on a real PostgreSQL. The gateway part checks the `apikey` header. The
 * PostgREST part verifies the bearer JWT (HS256), picks the function by name and argument keys
 * (PGRST202 and its hint when none fits), then runs one transaction: read-only for STABLE and
 * IMMUTABLE functions, `set_config` of `search_path`, `role`, `request.jwt.claims` (with `role`
 * added), `request.method`, `request.path`, `request.headers` and the function's own
 * `statement_timeout` (PostgREST's hoisted settings), each local to it, and the call
 * with the JSON arguments passed by name. PostgreSQL enforces grants and row-level security for
 * the JWT's role. Errors come back as PostgREST's `{ code, message, details, hint }` with its
 * status codes. Only functions are served: table routes answer 501.
 *
 * @example
 * const server = await startPostgrestServer({ connectionString: PG_URL, schemas: ['public'] })
 * const supabase = createClient(server.url, server.serviceRoleKey, { realtime: { transport: WebSocket } })
 */
export async function startPostgrestServer(options: PostgrestServerOptions): Promise<PostgrestServer> {
  const secret = options.jwtSecret ?? randomBytes(32).toString('hex')
  const schemas = options.schemas ?? ['public']
  if (schemas.length === 0) throw new Error('startPostgrestServer needs at least one exposed schema')
  const extra = options.extraSearchPath ?? ['public', 'extensions']
  const anonRole = options.anonRole ?? 'anon'
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 8 })
  pool.on('error', () => undefined) // an idle connection that dies is replaced; never crash the tests
  const issued = Math.floor(Date.now() / 1000)
  const key = (role: string) =>
    signJwt({ iss: 'supabase', role, iat: issued, exp: issued + 10 * 365 * 24 * HOUR }, secret)
  const anonKey = key('anon')
  const serviceRoleKey = key('service_role')
  const context: Context = {
    pool,
    secret,
    schemas,
    extra,
    anonRole,
    keys: new Set([anonKey, serviceRoleKey]),
  }

  const server = createServer((req, res) => {
    handle(context, req, res).catch((error: unknown) => {
      send(res, {
        status: 500,
        body: { code: 'PGRSTX00', message: String(error), details: null, hint: null },
      })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    anonKey,
    serviceRoleKey,
    jwtSecret: secret,
    signJwt: (claims) => signJwt(claims, secret),
    userToken: (userId, claims = {}) => {
      const now = Math.floor(Date.now() / 1000)
      return signJwt(
        { aud: 'authenticated', role: 'authenticated', sub: userId, iat: now, exp: now + HOUR, ...claims },
        secret,
      )
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pool.end()
    },
  }
}

interface Context {
  readonly pool: pg.Pool
  readonly secret: string
  readonly schemas: readonly string[]
  readonly extra: readonly string[]
  readonly anonRole: string
  readonly keys: ReadonlySet<string>
}

function send(res: ServerResponse, failure: PostgrestFailure): void {
  const payload = JSON.stringify(failure.body)
  res.writeHead(failure.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    ...failure.headers,
  })
  res.end(payload)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Supabase's gateway: a request needs one of the project's API keys before PostgREST sees it. */
function gatewayRefusal(context: Context, req: IncomingMessage, url: URL): PostgrestFailure | undefined {
  const apikey = req.headers.apikey ?? url.searchParams.get('apikey') ?? undefined
  if (apikey === undefined) {
    return {
      status: 401,
      body: {
        message: 'No API key found in request',
        hint: 'No `apikey` request header or url param was found.',
      },
    }
  }
  if (typeof apikey !== 'string' || !context.keys.has(apikey)) {
    return {
      status: 401,
      body: {
        message: 'Invalid API key',
        hint: 'Double check your Supabase `anon` or `service_role` API key.',
      },
    }
  }
  return undefined
}

/** The request's claims and role, or PostgREST's 401 for a token it rejects. */
function authenticate(
  context: Context,
  req: IncomingMessage,
): { claims: JwtClaims; role: string } | PostgrestFailure {
  const header = req.headers.authorization
  if (header === undefined) return { claims: {}, role: context.anonRole }
  const match = /^bearer\s+(.*)$/i.exec(header)
  if (!match) return { claims: {}, role: context.anonRole }
  const verdict = verifyJwt((match[1] ?? '').trim(), context.secret)
  if (!verdict.valid) {
    const description = JSON.stringify(verdict.error.message)
    return {
      status: 401,
      body: verdict.error,
      headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description=${description}` },
    }
  }
  const claim = verdict.claims.role
  const role =
    claim === undefined ? context.anonRole : typeof claim === 'string' ? claim : JSON.stringify(claim)
  return { claims: verdict.claims, role }
}

function isFailure(value: unknown): value is PostgrestFailure {
  return typeof value === 'object' && value !== null && 'status' in value && 'body' in value
}

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const refusal = gatewayRefusal(context, req, url)
  if (refusal) return send(res, refusal)
  if (!url.pathname.startsWith('/rest/v1/')) {
    return send(res, { status: 404, body: { message: 'no Route matched with those values' } })
  }
  const route = url.pathname.slice('/rest/v1/'.length)
  if (!route.startsWith('rpc/')) {
    return send(res, {
      status: 501,
      body: {
        code: 'PGRST127',
        message: 'This test server answers only /rest/v1/rpc/<function>',
        details: route,
        hint: null,
      },
    })
  }
  const method = req.method ?? 'GET'
  if (!['GET', 'HEAD', 'POST'].includes(method)) return send(res, unsupportedVerb(method))
  const post = method === 'POST'
  const auth = authenticate(context, req)
  if (isFailure(auth)) return send(res, auth)

  const profileHeader = post ? req.headers['content-profile'] : req.headers['accept-profile']
  const profile = typeof profileHeader === 'string' ? profileHeader : undefined
  const schema = profile ?? (context.schemas[0] as string)
  if (!context.schemas.includes(schema)) return send(res, unacceptableSchema(schema, context.schemas))

  let args: Record<string, unknown> = {}
  let text = '{}'
  if (post) {
    text = await readBody(req)
    if (text.trim() === '') text = '{}'
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return send(res, invalidBody('The body of a function call must be a JSON object of named arguments'))
      }
      args = parsed as Record<string, unknown>
    } catch (error) {
      return send(res, invalidBody((error as Error).message))
    }
  } else {
    for (const [name, value] of url.searchParams) args[name] = value
  }
  const keys = Object.keys(args)
  const name = decodeURIComponent(route.slice('rpc/'.length))
  const overloads = await loadRoutines(context.pool, schema, name)
  const chosen = await chooseRoutine(
    schema,
    name,
    keys,
    overloads,
    () => loadRoutines(context.pool, schema),
    post,
  )
  if (isFailure(chosen)) return send(res, chosen)

  const outcome = await run(context, chosen, {
    keys,
    args,
    text,
    post,
    role: auth.role,
    claims: auth.claims,
    method,
    path: url.pathname.slice('/rest/v1'.length),
    headers: req.headers,
  })
  if (isFailure(outcome)) return send(res, outcome)
  const headers: Record<string, string> = {
    'Content-Range': outcome.rows > 0 ? `0-${outcome.rows - 1}/*` : '*/*',
  }
  if (profile !== undefined) headers['Content-Profile'] = schema
  if (chosen.returns === 'void') {
    res.writeHead(204, headers)
    res.end()
    return
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(outcome.body),
  })
  res.end(method === 'HEAD' ? undefined : outcome.body)
}

interface CallRequest {
  readonly keys: readonly string[]
  readonly args: Record<string, unknown>
  readonly text: string
  readonly post: boolean
  readonly role: string
  readonly claims: JwtClaims
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
}

/** One request's transaction: settings, then the call; read-only unless the function is volatile and POSTed. */
async function run(
  context: Context,
  routine: Routine,
  request: CallRequest,
): Promise<{ body: string; rows: number } | PostgrestFailure> {
  const authed = request.role !== context.anonRole
  let client: pg.PoolClient
  try {
    client = await context.pool.connect()
  } catch (error) {
    return databaseFailure(error, authed)
  }
  let broken: unknown
  try {
    const readOnly = !request.post || !routine.volatile
    const isolation = routine.settings.find(([name]) => name === 'default_transaction_isolation')?.[1]
    const level = isolation === undefined ? 'READ COMMITTED' : isolation.replace(/^'|'$/g, '').toUpperCase()
    if (!['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE', 'READ UNCOMMITTED'].includes(level)) {
      throw new Error(`unknown isolation level ${isolation}`)
    }
    await client.query(`BEGIN ISOLATION LEVEL ${level} ${readOnly ? 'READ ONLY' : 'READ WRITE'}`)
    const searchPath = [routine.schema, ...context.extra]
      .map((s) => `"${s.replaceAll('"', '""')}"`)
      .join(', ')
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        Array.isArray(value) ? value.join(', ') : value,
      ]),
    )
    await client.query(
      `SELECT set_config('search_path', $1, true), set_config('role', $2, true),
        set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true),
        set_config('request.path', $5, true), set_config('request.headers', $6, true),
        set_config('request.cookies', '{}', true)`,
      [
        searchPath,
        request.role,
        JSON.stringify({ ...request.claims, role: request.role }),
        request.method,
        request.path,
        JSON.stringify(headers),
      ],
    )
    // The function's own statement_timeout (and the other hoisted settings) cover the call itself.
    for (const [name, value] of routine.settings) {
      await client.query('SELECT set_config($1, $2, true)', [name, value])
    }
    const { sql, parameters } = callSql(routine, request.keys, request.post ? 'json' : 'query')
    const values =
      parameters === 'body' ? [request.text] : parameters.map((name) => String(request.args[name]))
    const result = await client.query<{ body: string; page_total: string }>(sql, values)
    await client.query('COMMIT')
    const row = result.rows[0]
    return { body: row?.body ?? 'null', rows: Number(row?.page_total ?? 0) }
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError
    })
    return databaseFailure(error, authed)
  } finally {
    client.release(broken instanceof Error ? broken : undefined)
  }
}
