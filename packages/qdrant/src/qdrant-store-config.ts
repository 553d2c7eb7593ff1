import { booleanOption, HNSW_DEFAULTS, StorageError, validateTenant } from '@engram/core'
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest'

/** Options for `createQdrantVectorStore`. Give `url` or `client`. */
export interface QdrantVectorStoreConfig {
  /** The server, such as `http://localhost:6333` (a URL without a port means 6333). The store makes its own client. */
  url?: string
  /** The API key for `url` (Qdrant Cloud, or a server with `service.api_key`). Default is none. */
  apiKey?: string
  /** A client to use instead of `url`; the store never closes it. */
  client?: QdrantClient
  /** Scopes every request to this tenant: a payload field with a tenant index, added to every filter. Default is `''` (no tenant). */
  tenant?: string
  /** Prefix of the Qdrant collection behind each engram collection (`docs` is `engram_docs`). Default is `'engram_'`. */
  collectionPrefix?: string
  /** Give new collections the sparse text vector for text and hybrid search. Default is `true`. */
  hybrid?: boolean
  /** HNSW links per node for new collections. Default is `16`. */
  m?: number
  /** HNSW candidate list while building (Qdrant's `ef_construct`) for new collections. Default is `128`. */
  efConstruction?: number
  /** HNSW candidate list while searching (`hnsw_ef`), raised to topK when that is larger. Default is `64`. */
  efSearch?: number
  /** Collections with fewer points than this are searched exactly (`exact: true`) instead of by HNSW. Default is `10000`. */
  exactBelow?: number
  /** How many best vector matches and best text matches hybrid search fuses (at least topK). Default is `200`. */
  hybridCandidates?: number
  /** Quantization for new collections, passed to Qdrant as it is, such as `{ scalar: { type: 'int8', always_ram: true } }`. Default is none. */
  quantization?: Schemas['QuantizationConfig']
  /** Keep new collections' original vectors on disk (memory-mapped) rather than in RAM. Default is `false`. */
  onDisk?: boolean
  /** Shards per new collection (distributed Qdrant). Default is the server's. */
  shardNumber?: number
  /** Copies of each shard for new collections (distributed Qdrant). Default is the server's. */
  replicationFactor?: number
  /** Milliseconds the store's own client waits for a response. Default is the client's (300,000). */
  timeout?: number
  /** Times a request refused with 429 is tried again, with exponential backoff, before `BUSY`. Default is `3`. */
  maxRetries?: number
  /** The first backoff after a 429, in milliseconds, doubled each retry (a `Retry-After` from Qdrant wins). Default is `250`. */
  retryDelayMs?: number
}

/** The checked configuration, defaults filled in. */
export interface QdrantSettings {
  readonly client: QdrantClient
  /** The server's address for messages. */
  readonly url: string
  readonly tenant: string
  readonly prefix: string
  readonly hybrid: boolean
  readonly m: number
  readonly efConstruction: number
  readonly efSearch: number
  readonly exactBelow: number
  readonly hybridCandidates: number
  readonly quantization: Schemas['QuantizationConfig'] | undefined
  readonly onDisk: boolean
  readonly shardNumber: number | undefined
  readonly replicationFactor: number | undefined
  readonly maxRetries: number
  readonly retryDelayMs: number
}

const PREFIX = /^[A-Za-z0-9_-]{0,64}$/

/** Checks the configuration (an `INVALID_ARGUMENT` error names the bad option) and makes the client if none was given. */
export function readSettings(config: QdrantVectorStoreConfig): QdrantSettings {
  if (
    typeof config !== 'object' ||
    config === null ||
    (config.url === undefined && config.client === undefined)
  ) {
    throw new StorageError('INVALID_ARGUMENT', 'createQdrantVectorStore needs { url } or { client }')
  }
  const prefix = config.collectionPrefix ?? 'engram_'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `collectionPrefix must be up to 64 letters, digits, _ or -, got ${JSON.stringify(prefix)}`,
    )
  }
  const quantization = config.quantization
  if (quantization !== undefined && (typeof quantization !== 'object' || quantization === null)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'quantization must be a Qdrant quantization config, such as { scalar: { type: "int8" } }',
    )
  }
  const timeout = integer(config.timeout, 'timeout', 1)
  return {
    client: config.client ?? makeClient(config.url as string, config.apiKey, timeout),
    url: config.url ?? 'the server of the given client',
    tenant: validateTenant(config.tenant ?? ''),
    prefix,
    hybrid: booleanOption(config.hybrid, true, 'hybrid'),
    m: integer(config.m, 'm', 0) ?? HNSW_DEFAULTS.m,
    efConstruction: integer(config.efConstruction, 'efConstruction', 4) ?? HNSW_DEFAULTS.efConstruction,
    efSearch: integer(config.efSearch, 'efSearch', 1) ?? HNSW_DEFAULTS.efSearch,
    exactBelow: integer(config.exactBelow, 'exactBelow', 0) ?? 10_000,
    hybridCandidates: integer(config.hybridCandidates, 'hybridCandidates', 1) ?? 200,
    quantization,
    onDisk: booleanOption(config.onDisk, false, 'onDisk'),
    shardNumber: integer(config.shardNumber, 'shardNumber', 1),
    replicationFactor: integer(config.replicationFactor, 'replicationFactor', 1),
    maxRetries: integer(config.maxRetries, 'maxRetries', 0) ?? 3,
    retryDelayMs: integer(config.retryDelayMs, 'retryDelayMs', 0) ?? 250,
  }
}

function makeClient(url: string, apiKey: string | undefined, timeout: number | undefined): QdrantClient {
  try {
    // checkCompatibility: false, or the constructor itself sends GET / (and warns when offline).
    return new QdrantClient({
      url,
      checkCompatibility: false,
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(timeout === undefined ? {} : { timeout }),
    })
  } catch (error) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Invalid Qdrant url ${JSON.stringify(url)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
}

function integer(value: number | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < min) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be an integer of at least ${min}, got ${String(value)}`,
    )
  }
  return value
}
