import { StorageError, type VectorMetric } from '@engram/core'
import type { Index, Pinecone } from '@pinecone-database/pinecone'
import { callPinecone, isNotFound, type RateLimitPolicy } from './pinecone-errors.js'

/** The index a store works on, once it has been looked up. */
export interface IndexTarget {
  /** The client's handle on the index's data plane. */
  readonly index: Index
  /** The index's dimension. */
  readonly dimension: number
  /** How messages name the index. */
  readonly label: string
}

/** What `describeTarget` needs to know. */
export interface TargetOptions {
  /** The index name, when given. */
  readonly indexName: string | undefined
  /** The index host, when given. */
  readonly indexHost: string | undefined
  /** The metric the store was configured with. */
  readonly metric: VectorMetric
  /** How to wait out rate limits. */
  readonly policy: RateLimitPolicy
}

const PINECONE_METRIC: Readonly<Record<VectorMetric, string>> = {
  cosine: 'cosine',
  dot: 'dotproduct',
  euclidean: 'euclidean',
}

/**
 * Looks the index up and checks that the store can use it: with a name, `describeIndex` (a ready,
 * dense, serverless index whose metric is the configured one); with only a host, index stats for
 * the dimension (the metric cannot be read there, so the configured one is trusted).
 */
export async function describeTarget(client: Pinecone, options: TargetOptions): Promise<IndexTarget> {
  const { indexName, indexHost, metric, policy } = options
  if (indexName === undefined) {
    const index = client.index({ host: indexHost as string })
    const stats = await callPinecone('reading index stats', policy, () => index.describeIndexStats())
    const label = `at ${indexHost}`
    if (stats.dimension === undefined) throw sparse(label)
    return { index, dimension: stats.dimension, label }
  }
  const label = `"${indexName}"`
  const model = await callPinecone('describing the index', policy, async () => {
    try {
      return await client.describeIndex(indexName)
    } catch (error) {
      if (!isNotFound(error)) throw error
      throw new StorageError(
        'NOT_FOUND',
        `Pinecone index ${label} does not exist in this project; create a serverless dense index first (see docs/pinecone.md)`,
        { cause: error },
      )
    }
  })
  if (model.vectorType !== undefined && model.vectorType !== 'dense') throw sparse(label)
  // The client's spec decoder leaves every variant's key in place, so test the value.
  if ((model.spec as { pod?: unknown }).pod !== undefined) {
    throw new StorageError(
      'UNSUPPORTED',
      `Pinecone index ${label} is pod-based; the store needs a serverless index, which can list records and namespaces`,
    )
  }
  if (!model.status.ready) {
    throw new StorageError(
      'CONNECTION_FAILED',
      `Pinecone index ${label} is not ready (state ${model.status.state}); try again once it is Ready`,
    )
  }
  if (model.metric !== PINECONE_METRIC[metric]) {
    const engram = Object.entries(PINECONE_METRIC).find(([, name]) => name === model.metric)?.[0]
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Pinecone index ${label} uses the ${model.metric} metric but the store was configured with metric '${metric}'${engram ? `: pass metric: '${engram}'` : ''}`,
    )
  }
  if (model.dimension === undefined) throw sparse(label)
  const host = indexHost ?? model.host
  return { index: client.index({ name: indexName, host }), dimension: model.dimension, label }
}

function sparse(label: string): StorageError {
  return new StorageError(
    'UNSUPPORTED',
    `Pinecone index ${label} holds sparse vectors only; the store needs a dense index with a dimension`,
  )
}
