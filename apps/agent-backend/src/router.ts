import type { IncomingMessage } from 'node:http'
import { HttpError } from './http-error.js'
import { QueryParams } from './query-params.js'

/** The HTTP methods the router dispatches. */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** What a route handler receives. */
export interface RouteContext {
  /** The raw request, for reading the body. */
  request: IncomingMessage
  /** The path parameters, decoded (`/users/:userId` gives `params.userId`). */
  params: Readonly<Record<string, string>>
  /** The query string. */
  query: QueryParams
}

/** What a handler returns: a status and a JSON body (`undefined` for an empty 204). */
export interface RouteResult {
  /** The HTTP status. Default is `200`. */
  status?: number
  /** The JSON body. */
  body?: unknown
}

/** Handles one matched request. */
export type RouteHandler = (context: RouteContext) => Promise<RouteResult>

interface Route {
  method: Method
  pattern: string
  segments: string[]
  handler: RouteHandler
}

/** Runs after a request matched a route and before its handler; throwing an `HttpError` refuses the request. */
export type RouteGuard = (route: { pattern: string; params: Readonly<Record<string, string>> }) => void

/** A match for a request: the route to run, or the methods the path does allow. */
export type RouteMatch =
  | { handler: RouteHandler; pattern: string; params: Record<string, string> }
  | { handler: undefined; allowed: Method[] }

/**
 * A small path router: patterns are literal segments and `:name` parameters, matched whole.
 * It tells a path nobody serves (404) from a path served under other methods (405).
 *
 * @example
 * router.add('GET', '/users/:userId/conversations', async ({ params }) => ({ body: [] }))
 */
export class Router {
  readonly #routes: Route[] = []

  /** Registers a handler for `method` on `pattern`. */
  add(method: Method, pattern: string, handler: RouteHandler): this {
    this.#routes.push({ method, pattern, segments: splitPath(pattern), handler })
    return this
  }

  /** Finds the route for a method and path; throws a 404 when no route has this path. */
  match(method: string, path: string): RouteMatch {
    const segments = splitPath(path).map(decodeSegment)
    const allowed: Method[] = []
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, segments)
      if (params === undefined) continue
      if (route.method === method) return { handler: route.handler, pattern: route.pattern, params }
      allowed.push(route.method)
    }
    if (allowed.length === 0) throw new HttpError(404, 'NOT_FOUND', `No route for ${path}`)
    return { handler: undefined, allowed }
  }

  /**
   * Runs the matching handler for a request and returns its result; 404 and 405 are thrown as
   * `HttpError`s, and `guard` (authentication) runs on the match before the handler.
   */
  async dispatch(request: IncomingMessage, guard?: RouteGuard): Promise<RouteResult> {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const method = request.method ?? 'GET'
    const match = this.match(method, url.pathname)
    if (match.handler === undefined) {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`, {
        allow: match.allowed.join(', '),
      })
    }
    guard?.({ pattern: match.pattern, params: match.params })
    return match.handler({ request, params: match.params, query: new QueryParams(url.searchParams) })
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0)
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `The path segment '${segment}' is not valid percent-encoding`,
    )
  }
}

function matchSegments(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, part] of pattern.entries()) {
    const value = path[i] as string
    if (part.startsWith(':')) params[part.slice(1)] = value
    else if (part !== value) return undefined
  }
  return params
}
