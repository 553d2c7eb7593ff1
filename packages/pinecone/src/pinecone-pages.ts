import type { Index, PineconeRecord } from '@pinecone-database/pinecone'
import { fetchChunks } from './pinecone-batches.js'
import { callPinecone, isNotFound, type RateLimitPolicy } from './pinecone-errors.js'
import type { PineconeFilter } from './pinecone-filter.js'

/** A data-plane handle and the rate-limit policy its calls run under. */
export interface PageSource {
  /** The index. */
  readonly index: Index
  /** How to wait out rate limits. */
  readonly policy: RateLimitPolicy
}

/** Ids per list page (Pinecone's default and largest) and records per fetch-by-metadata page. */
export const PAGE_SIZE = 100

/** Pages of a namespace's record ids in id order, following list's pagination tokens. */
export async function* listIds(source: PageSource, namespace: string): AsyncIterable<string[]> {
  let token: string | undefined
  do {
    const page = await callPinecone('listing records', source.policy, () =>
      emptyIfMissing(
        source.index.listPaginated({
          namespace,
          limit: PAGE_SIZE,
          ...(token ? { paginationToken: token } : {}),
        }),
        {},
      ),
    )
    yield (page.vectors ?? []).flatMap((item) => (item.id === undefined ? [] : [item.id]))
    token = page.pagination?.next
  } while (token)
}

/** Pages of the records that match a Pinecone filter, from fetch by metadata. */
export async function* matchingRecords(
  source: PageSource,
  namespace: string,
  filter: PineconeFilter,
): AsyncIterable<PineconeRecord[]> {
  let token: string | undefined
  do {
    const page = await callPinecone('fetching records by metadata', source.policy, () =>
      emptyIfMissing(
        source.index.fetchByMetadata({
          namespace,
          filter,
          limit: PAGE_SIZE,
          ...(token ? { paginationToken: token } : {}),
        }),
        { records: {}, namespace },
      ),
    )
    yield Object.values(page.records)
    token = page.pagination?.next
  } while (token)
}

/** Fetches records by Pinecone id, in requests that fit a URL; missing ids are left out. */
export async function fetchRecords(
  source: PageSource,
  namespace: string,
  ids: readonly string[],
): Promise<PineconeRecord[]> {
  const found: PineconeRecord[] = []
  for (const chunk of fetchChunks(ids)) {
    const response = await callPinecone('fetching records', source.policy, () =>
      emptyIfMissing(source.index.fetch({ ids: chunk, namespace }), { records: {}, namespace }),
    )
    for (const id of chunk) {
      const record = Object.hasOwn(response.records, id) ? response.records[id] : undefined
      if (record) found.push(record)
    }
  }
  return found
}

/** The names of the namespaces that start with `prefix`. */
export async function* namespacesWithPrefix(source: PageSource, prefix: string): AsyncIterable<string> {
  let token: string | undefined
  do {
    const page = await callPinecone('listing namespaces', source.policy, () =>
      source.index.listNamespaces({ prefix, limit: PAGE_SIZE, ...(token ? { paginationToken: token } : {}) }),
    )
    for (const namespace of page.namespaces ?? []) if (namespace.name !== undefined) yield namespace.name
    token = page.pagination?.next
  } while (token)
}

/**
 * A read of a namespace that does not exist yet (a collection or tenant without records, or an
 * empty registry) may be answered with 404 instead of an empty result; both mean "nothing there".
 */
export async function emptyIfMissing<T>(read: Promise<T>, empty: T): Promise<T> {
  try {
    return await read
  } catch (error) {
    if (isNotFound(error)) return empty
    throw error
  }
}
