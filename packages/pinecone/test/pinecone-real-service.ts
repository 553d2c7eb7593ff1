import { type Index, Pinecone } from '@pinecone-database/pinecone'
import type { PineconeVectorStoreConfig } from '../src/index.js'

/** What the conformance suite needs to run against the real service. */
export interface RealService {
  /** Store options: a tracked client, the index, a namespace prefix of this run only. */
  readonly config: PineconeVectorStoreConfig
  /** Resolves once every write this run made is visible to list, count, fetch and query. */
  settle(): Promise<void>
  /** Deletes every namespace this run created. */
  cleanup(): Promise<void>
}

const POLL_MS = 250
const SETTLE_TIMEOUT_MS = 120_000

/**
 * The real service from the environment: `PINECONE_API_KEY` and `PINECONE_INDEX` (or
 * `PINECONE_INDEX_HOST`; `PINECONE_CONTROLLER_HOST` for another control plane), or `undefined`
 * when they are not set. The index must be a serverless,
 * dense, cosine index of at least 17 dimensions (the suite pads its 2- to 16-dimension
 * collections and keeps one dimension for all-zero vectors).
 *
 * Pinecone is eventually consistent, so `settle` waits: the store's client records, per
 * namespace, which ids each upsert, delete or namespace deletion leaves (and the write's log
 * sequence number when the service reports one), and `settle` polls until list and the namespace's
 * record count show exactly those ids, fetch returns the latest metadata written, and a query
 * reports an indexed log sequence number at least as new as the last write.
 */
export function realServiceFromEnv(): RealService | undefined {
  const apiKey = process.env.PINECONE_API_KEY
  const indexName = process.env.PINECONE_INDEX
  const indexHost = process.env.PINECONE_INDEX_HOST
  if (!apiKey || (!indexName && !indexHost)) return undefined
  const prefix = `engram-test-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  const namespaces = new Map<string, NamespaceWrites>()
  const controllerHostUrl = process.env.PINECONE_CONTROLLER_HOST
  const control = controllerHostUrl ? { controllerHostUrl } : {}
  const tracked = new Pinecone({ apiKey, ...control, fetchApi: trackingFetch(namespaces) })
  const seen: { lsn?: number } = {}
  const reader = new Pinecone({ apiKey, ...control, fetchApi: lsnReadingFetch(seen) })
  let index: Index | undefined
  let dimension = 0

  async function target(): Promise<Index> {
    if (index) return index
    const host = indexHost ?? (await reader.describeIndex(indexName as string)).host
    index = reader.index({ host })
    dimension = (await index.describeIndexStats()).dimension ?? 0
    return index
  }

  return {
    config: {
      client: tracked,
      ...(indexName ? { indexName } : {}),
      ...(indexHost ? { indexHost } : {}),
      namespacePrefix: prefix,
      padSmallerDimensions: true,
    },
    async settle() {
      const data = await target()
      const deadline = Date.now() + SETTLE_TIMEOUT_MS
      for (const [namespace, writes] of namespaces) {
        if (!writes.dirty) continue
        while (!(await isVisible(data, namespace, writes, dimension, seen))) {
          if (Date.now() > deadline)
            throw new Error(`Pinecone did not show the writes to ${namespace} in time`)
          await new Promise((resolve) => setTimeout(resolve, POLL_MS))
        }
        writes.dirty = false
      }
    },
    async cleanup() {
      const data = await target()
      let token: string | undefined
      const names: string[] = []
      do {
        const page = await data.listNamespaces({ prefix, ...(token ? { paginationToken: token } : {}) })
        for (const namespace of page.namespaces ?? []) if (namespace.name) names.push(namespace.name)
        token = page.pagination?.next
      } while (token)
      for (const name of names) await data.deleteNamespace(name).catch(() => undefined)
    },
  }
}

/** What one namespace should hold after this run's writes. */
interface NamespaceWrites {
  ids: Set<string>
  latest: Map<string, string>
  lsn: number
  dirty: boolean
}

function writesOf(namespaces: Map<string, NamespaceWrites>, namespace: string): NamespaceWrites {
  let writes = namespaces.get(namespace)
  if (!writes) {
    writes = { ids: new Set(), latest: new Map(), lsn: 0, dirty: false }
    namespaces.set(namespace, writes)
  }
  writes.dirty = true
  return writes
}

/** A fetch that notes what each write request leaves in its namespace. */
function trackingFetch(namespaces: Map<string, NamespaceWrites>): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init)
    if (!response.ok) return response
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {}
    const lsn = Number(response.headers.get('x-pinecone-request-lsn') ?? 0)
    if (url.pathname.endsWith('/vectors/upsert')) {
      const writes = writesOf(namespaces, String(body.namespace ?? ''))
      for (const vector of body.vectors as Array<{ id: string; metadata?: unknown }>) {
        writes.ids.add(vector.id)
        writes.latest.set(vector.id, JSON.stringify(vector.metadata ?? {}))
      }
      writes.lsn = Math.max(writes.lsn, lsn)
    } else if (url.pathname.endsWith('/vectors/delete')) {
      const writes = writesOf(namespaces, String(body.namespace ?? ''))
      for (const id of (body.ids as string[] | undefined) ?? []) {
        writes.ids.delete(id)
        writes.latest.delete(id)
      }
      if (body.deleteAll === true) writes.ids.clear()
      writes.lsn = Math.max(writes.lsn, lsn)
    } else if (init?.method === 'DELETE' && url.pathname.includes('/namespaces/')) {
      const writes = writesOf(namespaces, decodeURIComponent(url.pathname.split('/namespaces/')[1] as string))
      writes.ids.clear()
      writes.latest.clear()
    }
    return response
  }
}

async function isVisible(
  index: Index,
  namespace: string,
  writes: NamespaceWrites,
  dimension: number,
  seen: { lsn?: number },
): Promise<boolean> {
  const listed = new Set<string>()
  let token: string | undefined
  do {
    const page = await index.listPaginated({ namespace, ...(token ? { paginationToken: token } : {}) })
    for (const item of page.vectors ?? []) if (item.id) listed.add(item.id)
    token = page.pagination?.next
  } while (token)
  if (listed.size !== writes.ids.size || [...writes.ids].some((id) => !listed.has(id))) return false
  const count = await index
    .describeNamespace(namespace)
    .then((description) => description.recordCount ?? 0)
    .catch(() => 0)
  if (count !== writes.ids.size) return false
  const recent = [...writes.latest.keys()].slice(-100)
  if (recent.length > 0) {
    const fetched = await index.fetch({ ids: recent, namespace })
    for (const id of recent) {
      if (JSON.stringify(fetched.records[id]?.metadata ?? {}) !== writes.latest.get(id)) return false
    }
  }
  if (writes.lsn > 0 && dimension > 0) {
    const probe = new Array<number>(dimension).fill(0)
    probe[0] = 1
    seen.lsn = undefined
    await index.query({ namespace, vector: probe, topK: 1 })
    if (seen.lsn !== undefined && seen.lsn < writes.lsn) return false
  }
  return true
}

/** A fetch that keeps the indexed log sequence number of the last response that reports one. */
function lsnReadingFetch(seen: { lsn?: number }): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init)
    const header = response.headers.get('x-pinecone-max-indexed-lsn')
    if (header !== null) seen.lsn = Number(header)
    return response
  }
}
