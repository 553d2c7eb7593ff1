import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { isStorageError } from '@engram/core'
import type { Memory } from '@engram/memory'
import { type Authenticator, checkUserId } from './authenticator.js'
import { HttpError, toHttpError } from './http-error.js'
import { type RouteGuard, Router } from './router.js'
import { conversationRoutes } from './routes/conversation-routes.js'
import { memoryRoutes } from './routes/memory-routes.js'

/** Options for `createApp`. */
export interface AppConfig {
  /** The memory every endpoint works on. The app never closes it; whoever opened it does. */
  memory: Memory
  /**
   * Who may call. Every endpoint but `GET /health` needs a credential for the user id in its
   * path: another user's id is a 403. In insecure mode (development only) the path is trusted.
   */
  auth: Authenticator
  /**
   * Called with every error that became a 5xx, which is the only place their details go.
   * Default is `console.error`.
   */
  onServerError?: (error: unknown, request: IncomingMessage) => void
}

/**
 * Builds the agent backend as a `node:http` request listener, so it can be mounted on any
 * server (and on port 0 in tests).
 *
 * @example
 * const auth = createAuthenticator(authConfigFromEnv(process.env))
 * http.createServer(createApp({ memory: await Memory.open(), auth })).listen(3000, "127.0.0.1")
 */
export function createApp(config: AppConfig): RequestListener {
  const { memory, auth } = config
  const onServerError =
    config.onServerError ??
    ((error: unknown, request: IncomingMessage) =>
      console.error(`${request.method} ${request.url} failed:`, error))
  const router = new Router()
  router.add('GET', '/health', async () => {
    const kinds = { storage: memory.storage.kind, vectors: memory.vectors.kind }
    try {
      // A trivial query proves the database answers, not merely that the process is up.
      await memory.storage.get('SELECT 1 AS ok')
      return { body: { ok: true, ...kinds } }
    } catch (error) {
      const failure = toHttpError(error)
      return {
        status: 503,
        body: { ok: false, ...kinds, error: { code: failure.code, message: failure.message } },
      }
    }
  })
  conversationRoutes(router, memory)
  memoryRoutes(router, memory)

  return (request, response) => {
    router.dispatch(request, guard(auth, request)).then(
      (result) => send(response, result.status ?? 200, result.body),
      (error: unknown) => {
        const failure = toHttpError(error)
        if (failure.status >= 500) onServerError(error, request)
        sendError(request, response, failure)
      },
    )
  }
}

/** Authenticates every route but the health check, and holds each caller to the user id it proved. */
function guard(auth: Authenticator, request: IncomingMessage): RouteGuard {
  return ({ pattern, params }) => {
    if (pattern === '/health') return
    const user = auth.authenticate(request.headers.authorization)
    let pathUser: string
    try {
      pathUser = checkUserId(params.userId)
    } catch (error) {
      if (isStorageError(error)) throw new HttpError(400, 'INVALID_ARGUMENT', error.message)
      throw error
    }
    if (user !== undefined && user !== pathUser) {
      throw new HttpError(403, 'FORBIDDEN', 'The credential belongs to another user than the one in the path')
    }
  }
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    response.writeHead(status, headers).end()
    return
  }
  const text = JSON.stringify(body)
  response
    .writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text)
}

function sendError(request: IncomingMessage, response: ServerResponse, error: HttpError): void {
  if (response.headersSent) {
    response.destroy()
    return
  }
  const headers: Record<string, string> = { ...error.headers }
  // A body refused half-way is still arriving; closing the connection is cheaper than reading it all.
  if (!request.complete) headers.connection = 'close'
  send(response, error.status, { error: { code: error.code, message: error.message } }, headers)
}
