import { readFile, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'

/** What a route answers with: text, bytes, or `{ file }` to send a file from disk. */
export type RouteBody = string | Uint8Array | { file: string }

/** Options for `serve`. */
export interface ServeOptions {
  /** A folder served as-is (`/` is its `index.html`); files outside it are never served. */
  root?: string
  /** Exact paths (`'/app.js'`) answered before `root` is looked at. */
  routes?: Record<string, RouteBody>
}

/** A running local site. */
export interface Site {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string
  /** Stops the server, dropping open connections. */
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  // WebAssembly.instantiateStreaming refuses any other type.
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * Serves routes and/or a folder on `127.0.0.1` at a free port. Pages need a real origin:
 * IndexedDB, Web Locks and BroadcastChannel do not work on `about:blank`, and Web Locks need
 * a secure context, which localhost is.
 *
 * @example
 * const site = await serve({ routes: { '/': page('/app.js'), '/app.js': await bundle(entry) } })
 */
export async function serve(options: ServeOptions): Promise<Site> {
  const root = options.root === undefined ? undefined : resolve(options.root)
  const routes = options.routes ?? {}
  const server = createServer((request, response) => {
    answer(request, response, routes, root).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' })
      response.end(String(error))
    })
  })
  await new Promise<void>((ready, fail) => {
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => ready())
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/** A minimal HTML page that loads one ES module script. */
export function page(script: string, title = 'engram test page'): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body><script type="module" src="${script}"></script></body></html>\n`
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  routes: Record<string, RouteBody>,
  root: string | undefined,
): Promise<void> {
  const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname)
  const route = routes[path] ?? (path === '/' ? routes['/index.html'] : undefined)
  if (route !== undefined) {
    const file = typeof route === 'object' && 'file' in route ? route.file : undefined
    const body = file === undefined ? (route as string | Uint8Array) : await readFile(file)
    return send(response, file ?? (path === '/' ? '/index.html' : path), body)
  }
  if (root !== undefined) {
    const target = normalize(join(root, path === '/' ? 'index.html' : path))
    if (target === root || target.startsWith(root + sep)) {
      const found = await stat(target).catch(() => undefined)
      if (found?.isFile()) return send(response, target, await readFile(target))
    }
  }
  if (path === '/favicon.ico') {
    // Browsers ask for it unprompted; a 404 would show up as a console error in every test.
    response.writeHead(204)
    response.end()
    return
  }
  response.writeHead(404, { 'content-type': 'text/plain' })
  response.end(`Not found: ${path}`)
}

function send(response: ServerResponse, name: string, body: string | Uint8Array): void {
  response.writeHead(200, {
    'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  })
  response.end(body)
}
