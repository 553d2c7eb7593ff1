import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  ErrorResponseToJSON,
  IndexListToJSON,
  type IndexModel,
  IndexModelToJSON,
} from '@pinecone-database/pinecone/dist/pinecone-generated-ts-fetch/db_control/index.js'
import {
  CreateNamespaceRequestFromJSON,
  DeleteRequestFromJSON,
  DescribeIndexStatsRequestFromJSON,
  FetchByMetadataRequestFromJSON,
  FetchByMetadataResponseToJSON,
  FetchResponseToJSON,
  IndexDescriptionToJSON,
  ListNamespacesResponseToJSON,
  ListResponseToJSON,
  NamespaceDescriptionToJSON,
  QueryRequestFromJSON,
  QueryResponseToJSON,
  RpcStatusToJSON,
  UpsertRequestFromJSON,
  UpsertResponseToJSON,
} from '@pinecone-database/pinecone/dist/pinecone-generated-ts-fetch/db_data/index.js'
import {
  PINECONE_LIMITS,
  PineconeApiError,
  PineconeTestIndex,
  type PineconeTestIndexSpec,
} from './pinecone-test-index.js'

/** The API version this server speaks; requests naming another are refused, as the service does. */
export const PINECONE_API_VERSION = '2026-04'

/** The largest request body the data plane accepts, in bytes (Pinecone documents "2 MB"). */
export const PINECONE_MAX_REQUEST_BYTES = 2_000_000

/** The operations the server answers, named as in Pinecone's API reference. */
export type PineconeOperation =
  | 'listIndexes'
  | 'describeIndex'
  | 'upsert'
  | 'query'
  | 'fetch'
  | 'fetchByMetadata'
  | 'list'
  | 'delete'
  | 'describeIndexStats'
  | 'listNamespaces'
  | 'createNamespace'
  | 'describeNamespace'
  | 'deleteNamespace'

/** One request as the server saw it. */
export interface PineconeLoggedRequest {
  /** Which operation it was. */
  readonly operation: PineconeOperation | 'unknown'
  /** The index it addressed (data-plane requests and describeIndex). */
  readonly index?: string
  /** The namespace it addressed, when it named one. */
  readonly namespace?: string
  /** The HTTP status the server answered with. */
  readonly status: number
  /** Bytes in the request body. */
  readonly bodyBytes: number
  /** Characters in the request URL (path and query string). */
  readonly urlLength: number
  /** Records the request carried: vectors upserted, ids fetched or ids deleted. */
  readonly records: number
}

/** A failure to answer with instead of serving a request. */
export interface PineconeFault {
  /** The HTTP status, such as 429, 500 or 503. */
  status: number
  /** How many consecutive requests of the operation fail. Default is `1`. */
  times?: number
  /** The error message. Default names the status. */
  message?: string
}

/** Options for `startPineconeTestServer`. */
export interface PineconeTestServerOptions {
  /** The API key every request must carry in `Api-Key`. Default is a random key. */
  apiKey?: string
  /** The indexes to host from the start. */
  indexes?: readonly PineconeTestIndexSpec[]
}

/** A running server: the control plane at `url`, each index's data plane at `hostOf(name)`. */
export interface PineconeTestServer {
  /** The control-plane URL, for the client's `controllerHostUrl`. */
  readonly url: string
  /** The API key requests must carry. */
  readonly apiKey: string
  /** Every request served so far, oldest first. */
  readonly requests: readonly PineconeLoggedRequest[]
  /** The data-plane URL of an index, as `describeIndex` reports it in `host`. */
  hostOf(indexName: string): string
  /** Adds an index (replacing one of the same name and its data). */
  createIndex(spec: PineconeTestIndexSpec): void
  /** The names of an index's namespaces that exist, sorted. */
  namespaces(indexName: string): string[]
  /** Makes the next requests of `operation` fail with `fault` instead of being served. */
  failNext(operation: PineconeOperation, fault: PineconeFault): void
  /** Forgets the request log. */
  clearRequests(): void
  /** Stops the server. */
  close(): Promise<void>
}

const DATA_PATH = /^\/data\/([a-z0-9-]+)(\/.*)$/
const INDEX_PATH = /^\/indexes\/([^/]+)$/
const NAMESPACE_PATH = /^\/namespaces\/(.+)$/

const CONTROL_CODES: Readonly<Record<number, string>> = {
  3: 'INVALID_ARGUMENT',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  8: 'RESOURCE_EXHAUSTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
}

/** What a handled request produced: a status and a JSON body, plus what to log. */
interface Outcome {
  status: number
  body: unknown
}

/** What is known about a request while it is handled. */
interface Context {
  operation: PineconeOperation | 'unknown'
  index?: string
  namespace?: string
  records: number
  plane: 'control' | 'data'
}

/**
 * Starts an in-process Pinecone stand-in on 127.0.0.1 (a free port): the control plane
 * (`GET /indexes`, `GET /indexes/{name}`) and each index's data plane (upsert, query, fetch,
 * fetch by metadata, list, delete, index stats, namespaces), with Pinecone's documented limits,
 * filter language, scores (euclidean answers the squared distance) and error bodies. Requests
 * must carry the API key and the API version the client is generated for. Everything is
 * consistent at once, unlike the service. Each request is logged in `requests`.
 *
 * @example
 * const server = await startPineconeTestServer({ indexes: [{ name: 'docs', dimension: 8 }] })
 * const client = new Pinecone({ apiKey: server.apiKey, controllerHostUrl: server.url })
 */
export async function startPineconeTestServer(
  options: PineconeTestServerOptions = {},
): Promise<PineconeTestServer> {
  const apiKey = options.apiKey ?? `pc-test-${randomBytes(12).toString('hex')}`
  const indexes = new Map<string, PineconeTestIndex>()
  for (const spec of options.indexes ?? []) indexes.set(spec.name, new PineconeTestIndex(spec))
  const requests: PineconeLoggedRequest[] = []
  const faults = new Map<PineconeOperation, Required<PineconeFault>[]>()
  let baseUrl = ''

  const server: Server = createServer((request, response) => {
    readBody(request)
      .then((body) => {
        const context: Context = { operation: 'unknown', records: 0, plane: 'control' }
        const outcome = answer(request, body, context)
        const entry: PineconeLoggedRequest = {
          operation: context.operation,
          status: outcome.status,
          bodyBytes: body.length,
          urlLength: (request.url ?? '').length,
          records: context.records,
          ...(context.index === undefined ? {} : { index: context.index }),
          ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
        }
        requests.push(entry)
        send(response, outcome)
      })
      .catch((error: unknown) => send(response, { status: 500, body: { code: 13, message: String(error) } }))
  })

  function answer(request: IncomingMessage, raw: Buffer, context: Context): Outcome {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const data = DATA_PATH.exec(url.pathname)
    context.plane = data ? 'data' : 'control'
    try {
      route(request.method ?? 'GET', url, data, raw, context, true)
      if (request.headers['api-key'] !== apiKey) {
        throw new PineconeApiError(401, 16, 'Invalid API Key')
      }
      const version = request.headers['x-pinecone-api-version']
      if (version !== PINECONE_API_VERSION) {
        throw new PineconeApiError(
          400,
          3,
          `Unsupported API version ${JSON.stringify(version ?? null)} in the X-Pinecone-Api-Version header; this server supports ${PINECONE_API_VERSION}`,
        )
      }
      const fault = context.operation === 'unknown' ? undefined : takeFault(context.operation)
      if (fault) throw new PineconeApiError(fault.status, grpcCodeOf(fault.status), fault.message)
      if (raw.length > PINECONE_MAX_REQUEST_BYTES) {
        throw new PineconeApiError(
          400,
          3,
          `Request size ${raw.length} bytes exceeds the maximum supported size of 2MB`,
        )
      }
      return route(request.method ?? 'GET', url, data, raw, context, false)
    } catch (error) {
      if (!(error instanceof PineconeApiError)) throw error
      return failure(error, context.plane)
    }
  }

  /** Resolves the route; with `dryRun` it only names the operation (for auth and fault checks). */
  function route(
    method: string,
    url: URL,
    data: RegExpExecArray | null,
    raw: Buffer,
    context: Context,
    dryRun: boolean,
  ): Outcome {
    if (!data) return routeControl(method, url, context, dryRun)
    const indexName = data[1] as string
    const path = data[2] as string
    context.index = indexName
    const operation = dataOperation(method, path)
    if (!operation) throw new PineconeApiError(404, 5, `No data-plane route for ${method} ${path}`)
    context.operation = operation
    if (dryRun) return { status: 200, body: {} }
    const index = indexes.get(indexName)
    if (!index) throw new PineconeApiError(404, 5, `Index ${JSON.stringify(indexName)} not found`)
    return routeData(index, operation, path, url, raw, context)
  }

  function routeControl(method: string, url: URL, context: Context, dryRun: boolean): Outcome {
    if (method === 'GET' && url.pathname === '/indexes') {
      context.operation = 'listIndexes'
      if (dryRun) return { status: 200, body: {} }
      return { status: 200, body: IndexListToJSON({ indexes: [...indexes.values()].map(describeIndex) }) }
    }
    const match = INDEX_PATH.exec(url.pathname)
    if (method === 'GET' && match) {
      context.operation = 'describeIndex'
      const name = decodeURIComponent(match[1] as string)
      context.index = name
      if (dryRun) return { status: 200, body: {} }
      const index = indexes.get(name)
      if (!index) throw new PineconeApiError(404, 5, `Resource ${name} not found`)
      return { status: 200, body: IndexModelToJSON(describeIndex(index)) }
    }
    throw new PineconeApiError(404, 5, `No control-plane route for ${method} ${url.pathname}`)
  }

  function routeData(
    index: PineconeTestIndex,
    operation: PineconeOperation,
    path: string,
    url: URL,
    raw: Buffer,
    context: Context,
  ): Outcome {
    const params = url.searchParams
    switch (operation) {
      case 'upsert': {
        const request = UpsertRequestFromJSON(parseJson(raw))
        context.namespace = request.namespace ?? ''
        context.records = Array.isArray(request.vectors) ? request.vectors.length : 0
        return ok(UpsertResponseToJSON(index.upsert(request)))
      }
      case 'query': {
        const request = QueryRequestFromJSON(parseJson(raw))
        context.namespace = request.namespace ?? ''
        const body = QueryResponseToJSON(index.query(request))
        const size = Buffer.byteLength(JSON.stringify(body))
        if (size > PINECONE_LIMITS.resultBytes) {
          throw new PineconeApiError(
            400,
            3,
            `The query result is ${size} bytes, over the 4MB limit: lower topK or leave out values or metadata`,
          )
        }
        return ok(body)
      }
      case 'fetch': {
        const ids = params.getAll('ids')
        context.namespace = params.get('namespace') ?? ''
        context.records = ids.length
        return ok(FetchResponseToJSON(index.fetch(ids, params.get('namespace') ?? undefined)))
      }
      case 'fetchByMetadata': {
        const request = FetchByMetadataRequestFromJSON(parseJson(raw))
        context.namespace = request.namespace ?? ''
        return ok(FetchByMetadataResponseToJSON(index.fetchByMetadata(request)))
      }
      case 'list': {
        context.namespace = params.get('namespace') ?? ''
        const limit = params.get('limit')
        return ok(
          ListResponseToJSON(
            index.list({
              ...optional('namespace', params.get('namespace')),
              ...optional('prefix', params.get('prefix')),
              ...optional('paginationToken', params.get('paginationToken')),
              ...(limit === null ? {} : { limit: Number(limit) }),
            }),
          ),
        )
      }
      case 'delete': {
        const request = DeleteRequestFromJSON(parseJson(raw))
        context.namespace = request.namespace ?? ''
        context.records = request.ids?.length ?? 0
        return ok(index.delete(request))
      }
      case 'describeIndexStats': {
        const request = DescribeIndexStatsRequestFromJSON(raw.length === 0 ? {} : parseJson(raw))
        return ok(IndexDescriptionToJSON(index.stats(request.filter)))
      }
      case 'listNamespaces': {
        const limit = params.get('limit')
        return ok(
          ListNamespacesResponseToJSON(
            index.listNamespaces({
              ...optional('prefix', params.get('prefix')),
              ...optional('paginationToken', params.get('paginationToken')),
              ...(limit === null ? {} : { limit: Number(limit) }),
            }),
          ),
        )
      }
      case 'createNamespace': {
        const request = CreateNamespaceRequestFromJSON(parseJson(raw))
        context.namespace = request.name
        return ok(NamespaceDescriptionToJSON(index.createNamespace(request.name)))
      }
      default: {
        const name = decodeURIComponent((NAMESPACE_PATH.exec(path) as RegExpExecArray)[1] as string)
        context.namespace = name
        if (operation === 'describeNamespace')
          return ok(NamespaceDescriptionToJSON(index.describeNamespace(name)))
        return ok(index.deleteNamespace(name))
      }
    }
  }

  function describeIndex(index: PineconeTestIndex): IndexModel {
    const spec: IndexModel['spec'] =
      index.deployment === 'pod'
        ? { pod: { environment: 'us-east-1-aws', podType: 'p1.x1', pods: 1, replicas: 1, shards: 1 } }
        : {
            serverless: {
              cloud: 'aws',
              region: 'us-east-1',
              readCapacity: { mode: 'OnDemand', status: { state: 'Ready' } },
            },
          }
    return {
      name: index.name,
      dimension: index.dimension,
      metric: index.metric,
      host: `${baseUrl}/data/${index.name}`,
      deletionProtection: 'disabled',
      spec,
      status: { ready: true, state: 'Ready' },
      vectorType: 'dense',
    }
  }

  function takeFault(operation: PineconeOperation): Required<PineconeFault> | undefined {
    const queue = faults.get(operation)
    const fault = queue?.[0]
    if (!queue || !fault) return undefined
    fault.times--
    if (fault.times <= 0) queue.shift()
    return fault
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    apiKey,
    requests,
    hostOf(indexName) {
      return `${baseUrl}/data/${indexName}`
    },
    createIndex(spec) {
      indexes.set(spec.name, new PineconeTestIndex(spec))
    },
    namespaces(indexName) {
      return indexes.get(indexName)?.namespaceNames() ?? []
    },
    failNext(operation, fault) {
      const queue = faults.get(operation) ?? []
      queue.push({
        status: fault.status,
        times: fault.times ?? 1,
        message: fault.message ?? `Injected HTTP ${fault.status}`,
      })
      faults.set(operation, queue)
    },
    clearRequests() {
      requests.length = 0
    },
    close() {
      return new Promise((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      })
    },
  }
}

function dataOperation(method: string, path: string): PineconeOperation | undefined {
  if (method === 'POST' && path === '/vectors/upsert') return 'upsert'
  if (method === 'POST' && path === '/query') return 'query'
  if (method === 'GET' && path === '/vectors/fetch') return 'fetch'
  if (method === 'POST' && path === '/vectors/fetch_by_metadata') return 'fetchByMetadata'
  if (method === 'GET' && path === '/vectors/list') return 'list'
  if (method === 'POST' && path === '/vectors/delete') return 'delete'
  if (method === 'POST' && path === '/describe_index_stats') return 'describeIndexStats'
  if (method === 'GET' && path === '/namespaces') return 'listNamespaces'
  if (method === 'POST' && path === '/namespaces') return 'createNamespace'
  if (NAMESPACE_PATH.test(path)) {
    if (method === 'GET') return 'describeNamespace'
    if (method === 'DELETE') return 'deleteNamespace'
  }
  return undefined
}

function failure(error: PineconeApiError, plane: 'control' | 'data'): Outcome {
  if (plane === 'data') {
    return {
      status: error.status,
      body: RpcStatusToJSON({ code: error.code, message: error.message, details: [] }),
    }
  }
  return {
    status: error.status,
    body: ErrorResponseToJSON({
      status: error.status,
      error: { code: CONTROL_CODES[error.code] ?? 'UNKNOWN', message: error.message },
    }),
  }
}

function grpcCodeOf(status: number): number {
  if (status === 429) return 8
  if (status === 401) return 16
  if (status === 404) return 5
  if (status === 503) return 14
  if (status >= 500) return 13
  return 3
}

function ok(body: unknown): Outcome {
  return { status: 200, body }
}

function optional<K extends string>(key: K, value: string | null): Partial<Record<K, string>> {
  return value === null ? {} : ({ [key]: value } as Record<K, string>)
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    throw new PineconeApiError(400, 3, 'The request body is not valid JSON')
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function send(response: ServerResponse, outcome: Outcome): void {
  const text = JSON.stringify(outcome.body ?? {})
  response.writeHead(outcome.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}
