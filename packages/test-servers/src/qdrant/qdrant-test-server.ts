import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Schemas } from '@qdrant/js-client-rest'
import { CollectionStore } from './collection-store.js'
import { QdrantHttpError } from './qdrant-http-error.js'
import { queryBatch, queryPoints } from './query.js'

/** Options for `startQdrantTestServer`. */
export interface QdrantTestServerOptions {
  /** Require this key in the `api-key` header (or `Authorization: Bearer …`), as Qdrant's `service.api_key` does. Default is none. */
  apiKey?: string
  /** The largest request body accepted, in bytes. Default is 32 MiB (Qdrant's `max_request_size_mb` default). */
  maxRequestBytes?: number
  /** The version `GET /` reports. Default is `'1.18.3'`. */
  version?: string
  /** The port to listen on (127.0.0.1 only). Default is `0`, a free port. */
  port?: number
}

/** One request the server received, for tests that check what a client sent. */
export interface RecordedRequest {
  /** The HTTP method. */
  readonly method: string
  /** The path, decoded, without the query string. */
  readonly path: string
  /** The query string parameters. */
  readonly query: Readonly<Record<string, string>>
  /** The parsed JSON body, or `undefined`. */
  readonly body: unknown
  /** The request headers, lowercased. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** A failure the server answers with instead of handling the request. */
export interface InjectedFault {
  /** The HTTP status to answer with, such as 429 or 500. */
  status: number
  /** How many matching requests fail. Default is `1`. */
  times?: number
  /** Only requests whose `METHOD /path` matches. Default is every request. */
  match?: RegExp
  /** The `status.error` text. Default is one naming the status. */
  message?: string
  /** Extra response headers, such as `{ 'retry-after': '1' }`. */
  headers?: Record<string, string>
  /** Never answer (until the server closes), to exercise client timeouts. Default is `false`. */
  hang?: boolean
}

/** A running test server. */
export interface QdrantTestServer {
  /** The base URL, such as `http://127.0.0.1:40123`. */
  readonly url: string
  /** Every request received so far, oldest first. */
  readonly requests: readonly RecordedRequest[]
  /** Makes the next matching request(s) fail with the given status. */
  failNext(fault: InjectedFault): void
  /** Forgets the recorded requests. */
  clearRequests(): void
  /** Stops the server and drops every connection. */
  close(): Promise<void>
}

interface PendingFault extends InjectedFault {
  remaining: number
}

type Handler = (match: RegExpExecArray, body: unknown, query: URLSearchParams) => unknown

/**
 * Starts an in-process Qdrant test server on 127.0.0.1 (a free port unless `port` is given). It speaks the subset
 * of Qdrant's REST API that `@engram/qdrant` calls (collections, payload indexes, upsert,
 * retrieve, delete, count, scroll, query and query batch), with Qdrant's envelope
 * (`{ result, status, time }`), error bodies and status codes, filter semantics, Cosine
 * normalisation, Euclid distances, sparse IDF and RRF. It is a test server: everything is in
 * memory, every search is exact, and features outside the subset answer 400 saying so.
 *
 * @example
 * const server = await startQdrantTestServer()
 * const client = new QdrantClient({ url: server.url, checkCompatibility: false })
 */
export async function startQdrantTestServer(
  options: QdrantTestServerOptions = {},
): Promise<QdrantTestServer> {
  const store = new CollectionStore()
  const requests: RecordedRequest[] = []
  const faults: PendingFault[] = []
  const limit = options.maxRequestBytes ?? 32 * 1024 * 1024
  const version = options.version ?? '1.18.3'
  const name = '([^/]+)'
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/collections$/, () => ({ collections: store.names().map((n) => ({ name: n })) })],
    ['GET', new RegExp(`^/collections/${name}$`), (m) => store.info(at(m))],
    ['GET', new RegExp(`^/collections/${name}/exists$`), (m) => ({ exists: store.has(at(m)) })],
    ['PUT', new RegExp(`^/collections/${name}$`), (m, body) => store.create(at(m), object(body))],
    ['DELETE', new RegExp(`^/collections/${name}$`), (m) => store.drop(at(m))],
    ['PUT', new RegExp(`^/collections/${name}/index$`), (m, body) => store.createIndex(at(m), object(body))],
    [
      'PUT',
      new RegExp(`^/collections/${name}/points$`),
      (m, body, q) => store.upsert(at(m), object(body), waits(q)),
    ],
    ['POST', new RegExp(`^/collections/${name}/points$`), (m, body) => store.retrieve(at(m), object(body))],
    [
      'POST',
      new RegExp(`^/collections/${name}/points/delete$`),
      (m, body, q) => store.deletePoints(at(m), object(body), waits(q)),
    ],
    [
      'POST',
      new RegExp(`^/collections/${name}/points/count$`),
      (m, body) => store.count(at(m), object(body)),
    ],
    [
      'POST',
      new RegExp(`^/collections/${name}/points/scroll$`),
      (m, body) => store.scroll(at(m), object(body)),
    ],
    [
      'POST',
      new RegExp(`^/collections/${name}/points/query$`),
      (m, body) => queryPoints(store, at(m), object(body)),
    ],
    [
      'POST',
      new RegExp(`^/collections/${name}/points/query/batch$`),
      (m, body) => queryBatch(store, at(m), object<Schemas['QueryRequestBatch']>(body)),
    ],
  ]

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint()
    const time = () => Number(process.hrtime.bigint() - started) / 1e9
    readBody(req, limit)
      .then((raw) => {
        const url = new URL(req.url ?? '/', 'http://localhost')
        const path = decodeURIComponent(url.pathname)
        const method = req.method ?? 'GET'
        let body: unknown
        try {
          body = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'))
        } catch (error) {
          throw new QdrantHttpError(400, `Format error in JSON body: ${(error as Error).message}`)
        }
        requests.push({
          method,
          path,
          query: Object.fromEntries(url.searchParams),
          body,
          headers: { ...req.headers },
        })
        if (options.apiKey !== undefined && !authorised(req, options.apiKey)) {
          const message = hasKey(req)
            ? 'Invalid API key or JWT'
            : 'Must provide an API key or an Authorization bearer token'
          res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end(message)
          return
        }
        const fault = takeFault(faults, `${method} ${path}`)
        if (fault?.hang) return
        if (fault) {
          const message = fault.message ?? `Injected failure with status ${fault.status}`
          send(res, fault.status, { status: { error: message }, time: time() }, fault.headers)
          return
        }
        if (method === 'GET' && path === '/') {
          send(res, 200, { title: 'qdrant - vector search engine', version, commit: 'engram-test-server' })
          return
        }
        for (const [verb, pattern, handle] of routes) {
          const match = verb === method ? pattern.exec(path) : null
          if (match) {
            const result = handle(match, body, url.searchParams)
            send(res, 200, { result, status: 'ok', time: time() })
            return
          }
        }
        throw new QdrantHttpError(
          404,
          `Not found: engram's Qdrant test server has no route for ${method} ${path}`,
        )
      })
      .catch((error: unknown) => {
        const status = error instanceof QdrantHttpError ? error.status : 500
        const message =
          error instanceof QdrantHttpError
            ? error.message
            : `Service internal error: ${(error as Error).message}`
        if (!res.headersSent) send(res, status, { status: { error: message }, time: time() })
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 })
    },
    clearRequests() {
      requests.length = 0
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })
    },
  }
}

function at(match: RegExpExecArray): string {
  return match[1] as string
}

function object<T>(body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new QdrantHttpError(400, 'Format error in JSON body: expected a JSON object')
  }
  return body as T
}

function waits(query: URLSearchParams): boolean {
  return query.get('wait') === 'true'
}

function hasKey(req: IncomingMessage): boolean {
  return req.headers['api-key'] !== undefined || req.headers.authorization?.startsWith('Bearer ') === true
}

function authorised(req: IncomingMessage, key: string): boolean {
  const given = req.headers['api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '')
  return given === key
}

function takeFault(faults: PendingFault[], target: string): PendingFault | undefined {
  const fault = faults.find((f) => f.remaining > 0 && (f.match === undefined || f.match.test(target)))
  if (!fault) return undefined
  fault.remaining--
  if (fault.remaining === 0) faults.splice(faults.indexOf(fault), 1)
  return fault
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** Reads the body; past `limit` bytes it is the 400 Qdrant's JSON extractor answers with. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let refused = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit && !refused) {
        refused = true
        reject(
          new QdrantHttpError(
            400,
            `JSON payload (${size} bytes) is larger than allowed (limit: ${limit} bytes).`,
          ),
        )
      }
      if (!refused) chunks.push(chunk)
    })
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}
