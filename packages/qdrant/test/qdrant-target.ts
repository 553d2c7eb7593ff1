import { randomBytes } from 'node:crypto'
import { type QdrantTestServer, startQdrantTestServer } from '@engram/test-servers/qdrant'
import { createQdrantVectorStore, type QdrantVectorStoreConfig } from '../src/index.js'

/** A real Qdrant when `QDRANT_URL` is set (with `QDRANT_API_KEY` if it needs one), else engram's test server. */
export interface QdrantTarget {
  /** What the tests run against, for test names. */
  readonly label: string
  /** The server's URL. */
  readonly url: string
  /** The API key, if any. */
  readonly apiKey: string | undefined
  /** The in-process test server, or `undefined` against a real Qdrant. */
  readonly server: QdrantTestServer | undefined
  /** A collection prefix no other run uses, so parallel runs on one server never meet. */
  prefix(): string
  /** A store on the target; `extra` overrides the defaults. */
  open(extra?: Partial<QdrantVectorStoreConfig>): ReturnType<typeof createQdrantVectorStore>
  /** Stops the test server (a real Qdrant is left running). */
  stop(): Promise<void>
}

/** Starts the target for one test file. */
export async function startTarget(): Promise<QdrantTarget> {
  const realUrl = process.env.QDRANT_URL
  const server = realUrl ? undefined : await startQdrantTestServer()
  const url = realUrl ?? (server as QdrantTestServer).url
  const apiKey = realUrl ? process.env.QDRANT_API_KEY || undefined : undefined
  const run = randomBytes(4).toString('hex')
  let n = 0
  return {
    label: realUrl ? `Qdrant at ${realUrl}` : "engram's Qdrant test server",
    url,
    apiKey,
    server,
    prefix: () => `engram_t${run}_${n++}_`,
    open(extra = {}) {
      return createQdrantVectorStore({ url, ...(apiKey ? { apiKey } : {}), retryDelayMs: 1, ...extra })
    },
    async stop() {
      await server?.close()
    },
  }
}
