import {
  type CollectionInfo,
  type CollectionSpec,
  collectionNotFound,
  type DeleteTarget,
  FILTER_OPERATORS,
  type Filter,
  type FilterNode,
  type Metadata,
  matchesFilter,
  reciprocalRankFusion,
  StorageError,
  similarity,
  specMismatch,
  type ValidQuery,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorMetric,
  type VectorQuery,
  type VectorRecord,
  type VectorStore,
  validateCollectionName,
  validateCollectionSpec,
  validateDeleteTarget,
  validateFilter,
  validateQuery,
  validateRecords,
  validateScanOptions,
} from '@engram/core'

/** Options for `createReferenceVectorStore`. */
export interface ReferenceVectorStoreConfig {
  /** Whether text and hybrid queries are supported. Default is `true`. */
  hybrid?: boolean
  /** The filter operators honoured; others are `UNSUPPORTED`. Default is all of them. */
  operators?: readonly string[]
  /** The metrics accepted; others are `UNSUPPORTED`. Default is all of them. */
  metrics?: readonly VectorMetric[]
}

/**
 * An in-memory, exact vector store: the executable example of the contract. It proves the
 * conformance suite, and plugin authors can read it to see what each method must do.
 * Nothing is persisted.
 *
 * @example
 * describeVectorStore('reference', async () => createReferenceVectorStore())
 */
export function createReferenceVectorStore(config: ReferenceVectorStoreConfig = {}): VectorStore {
  return new ReferenceVectorStore(config)
}

const MAX_DIMENSION = 65_535
// BM25 parameters: term-frequency saturation and document-length normalisation.
const K1 = 1.2
const B = 0.75
const WORD = /[\p{L}\p{N}]+/gu

/** A stored record, plus its text's term counts for BM25. */
interface StoredRecord extends ValidRecord {
  terms?: Map<string, number>
  length: number
}

interface Collection {
  spec: Required<CollectionSpec>
  records: Map<string, StoredRecord>
}

interface Ranked {
  record: StoredRecord
  score: number
}

class ReferenceVectorStore implements VectorStore {
  readonly kind = 'reference'
  readonly capabilities: VectorCapabilities
  readonly #collections = new Map<string, Collection>()
  #closed = false

  constructor(config: ReferenceVectorStoreConfig) {
    this.capabilities = Object.freeze({
      hybrid: config.hybrid ?? true,
      operators: Object.freeze([...(config.operators ?? FILTER_OPERATORS)]),
      metrics: Object.freeze([...(config.metrics ?? (['cosine', 'dot', 'euclidean'] as const))]),
      maxDimension: MAX_DIMENSION,
      exact: true,
    })
  }

  async createCollection(name: string, spec: CollectionSpec): Promise<void> {
    this.#open()
    validateCollectionName(name)
    const wanted = validateCollectionSpec(spec, this.capabilities.maxDimension)
    if (!this.capabilities.metrics.includes(wanted.metric)) {
      throw new StorageError(
        'UNSUPPORTED',
        `This store does not support the ${wanted.metric} metric; use one of ${this.capabilities.metrics.join(', ')}`,
      )
    }
    const existing = this.#collections.get(name)
    if (existing) {
      if (existing.spec.dimension !== wanted.dimension || existing.spec.metric !== wanted.metric) {
        throw specMismatch(name, existing.spec, wanted)
      }
      return
    }
    this.#collections.set(name, { spec: wanted, records: new Map() })
  }

  async describeCollection(name: string): Promise<CollectionInfo | undefined> {
    this.#open()
    validateCollectionName(name)
    const collection = this.#collections.get(name)
    if (!collection) return undefined
    return { name, ...collection.spec, count: collection.records.size }
  }

  async listCollections(): Promise<string[]> {
    this.#open()
    // Plain JS order is UTF-16 order, which equals code-point order for collection names (ASCII only).
    return [...this.#collections.keys()].sort()
  }

  async dropCollection(name: string): Promise<void> {
    this.#open()
    validateCollectionName(name)
    this.#collections.delete(name)
  }

  async upsert(collection: string, records: readonly VectorRecord[]): Promise<void> {
    const { spec, records: stored } = this.#collection(collection)
    // Validate the whole batch first so a bad record writes nothing.
    const valid = validateRecords(records, spec.dimension)
    for (const record of valid) stored.set(record.id, indexText(copyRecord(record)))
  }

  async query(collection: string, query: VectorQuery): Promise<VectorMatch[]> {
    const { spec, records } = this.#collection(collection)
    const valid = validateQuery(query, spec.dimension)
    const filter = this.#filter(valid.filter)
    if (valid.mode !== 'vector' && !this.capabilities.hybrid) {
      throw new StorageError('UNSUPPORTED', `This store has no text search; use mode 'vector'`)
    }
    const candidates = [...records.values()].filter((record) => matchesFilter(filter, record.metadata))
    if (valid.mode === 'vector') {
      return rankByVector(candidates, spec.metric, valid)
        .slice(0, valid.topK)
        .map(({ record, score }) => toMatch(record, score, valid))
    }
    const textList = rankByText(candidates, records, valid.text)
    if (valid.mode === 'text') {
      return textList.slice(0, valid.topK).map(({ record, score }) => toMatch(record, score, valid))
    }
    // Hybrid fuses the full filtered lists, so its scores equal RRF over the two single-mode queries.
    const vectorList = rankByVector(candidates, spec.metric, valid)
    const fused = reciprocalRankFusion([vectorList.map((r) => r.record), textList.map((r) => r.record)], {
      k: valid.rrfK,
      limit: valid.topK,
    })
    return fused.map(({ id, score }) => toMatch(records.get(id) as StoredRecord, score, valid))
  }

  async get(collection: string, ids: readonly string[]): Promise<VectorRecord[]> {
    const { records } = this.#collection(collection)
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new StorageError('INVALID_ARGUMENT', 'get() takes an array of string ids')
    }
    const out: VectorRecord[] = []
    for (const id of new Set(ids)) {
      const record = records.get(id)
      if (record) out.push(toRecord(record))
    }
    return out
  }

  async delete(collection: string, target: DeleteTarget): Promise<number> {
    const { records } = this.#collection(collection)
    const valid = validateDeleteTarget(target, { operators: this.capabilities.operators })
    if ('ids' in valid) {
      let removed = 0
      for (const id of new Set(valid.ids)) if (records.delete(id)) removed++
      return removed
    }
    const filter = valid.filter
    const doomed = [...records.values()].filter((record) => matchesFilter(filter, record.metadata))
    for (const record of doomed) records.delete(record.id)
    return doomed.length
  }

  async count(collection: string, filter?: Filter): Promise<number> {
    const { records } = this.#collection(collection)
    if (filter === undefined) return records.size
    const node = this.#filter(filter)
    let n = 0
    for (const record of records.values()) if (matchesFilter(node, record.metadata)) n++
    return n
  }

  async *scan(
    collection: string,
    options: { filter?: Filter; batchSize?: number } = {},
  ): AsyncIterable<VectorRecord[]> {
    const { records } = this.#collection(collection)
    const { batchSize } = validateScanOptions(options)
    const filter = this.#filter(options.filter)
    // A snapshot, so writes made while the caller consumes batches neither repeat nor skip records.
    const matching = [...records.values()].filter((record) => matchesFilter(filter, record.metadata))
    for (let start = 0; start < matching.length; start += batchSize) {
      yield matching.slice(start, start + batchSize).map(toRecord)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#collections.clear()
  }

  #open(): void {
    if (this.#closed) throw new StorageError('CLOSED', 'This vector store is closed; open a new one')
  }

  #collection(name: string): Collection {
    this.#open()
    validateCollectionName(name)
    const collection = this.#collections.get(name)
    if (!collection) throw collectionNotFound(name)
    return collection
  }

  /** Validates a filter against this store's operators; no filter matches everything. */
  #filter(filter: Filter | undefined): FilterNode {
    return validateFilter(filter ?? {}, { operators: this.capabilities.operators })
  }
}

/** Every candidate with its similarity to the query vector, best first, ties by id. */
function rankByVector(
  candidates: readonly StoredRecord[],
  metric: VectorMetric,
  query: ValidQuery,
): Ranked[] {
  const vector = query.vector as Float32Array
  return candidates
    .map((record) => ({ record, score: similarity(metric, vector, record.vector) }))
    .sort(byScoreThenId)
}

/**
 * BM25 over the collection's texts: the candidates that contain at least one query term, best
 * first. Corpus statistics (document frequency, average length) cover the whole collection, so
 * a filter changes which records come back but not how they score.
 */
function rankByText(
  candidates: readonly StoredRecord[],
  all: ReadonlyMap<string, StoredRecord>,
  text: string | undefined,
): Ranked[] {
  const terms = [...new Set(tokenize(text ?? ''))]
  if (terms.length === 0) return []
  let documents = 0
  let totalLength = 0
  const frequency = new Map<string, number>(terms.map((term) => [term, 0]))
  for (const record of all.values()) {
    if (!record.terms) continue
    documents++
    totalLength += record.length
    for (const term of terms) if (record.terms.has(term)) frequency.set(term, (frequency.get(term) ?? 0) + 1)
  }
  const averageLength = totalLength / Math.max(documents, 1)
  const ranked: Ranked[] = []
  for (const record of candidates) {
    if (!record.terms) continue
    let score = 0
    let matched = false
    for (const term of terms) {
      const tf = record.terms.get(term)
      if (!tf) continue
      matched = true
      const df = frequency.get(term) ?? 0
      const idf = Math.log(1 + (documents - df + 0.5) / (df + 0.5))
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * record.length) / averageLength))
    }
    if (matched) ranked.push({ record, score })
  }
  return ranked.sort(byScoreThenId)
}

/** Lowercase Unicode words: runs of letters and digits. */
function tokenize(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? []
}

function byScoreThenId(a: Ranked, b: Ranked): number {
  return b.score - a.score || (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0)
}

function indexText(record: ValidRecord): StoredRecord {
  if (record.text === undefined) return { ...record, length: 0 }
  const words = tokenize(record.text)
  if (words.length === 0) return { ...record, length: 0 }
  const terms = new Map<string, number>()
  for (const word of words) terms.set(word, (terms.get(word) ?? 0) + 1)
  return { ...record, terms, length: words.length }
}

/** Copies metadata so neither the caller's later changes nor changes to returned records reach the store. */
function copyMetadata(metadata: Metadata): Metadata {
  return Object.fromEntries(
    Object.entries(metadata).map(([key, value]) => [key, Array.isArray(value) ? [...value] : value]),
  )
}

function copyRecord(record: ValidRecord): ValidRecord {
  // validateRecords already copied the vector; the metadata is still the caller's object.
  const copy: ValidRecord = { id: record.id, vector: record.vector }
  if (record.metadata !== undefined) copy.metadata = copyMetadata(record.metadata)
  if (record.text !== undefined) copy.text = record.text
  return copy
}

function toRecord(record: StoredRecord): VectorRecord {
  const out: VectorRecord = { id: record.id, vector: Float32Array.from(record.vector) }
  if (record.metadata !== undefined) out.metadata = copyMetadata(record.metadata)
  if (record.text !== undefined) out.text = record.text
  return out
}

function toMatch(record: StoredRecord, score: number, query: ValidQuery): VectorMatch {
  const match: VectorMatch = { id: record.id, score }
  if (record.metadata !== undefined) match.metadata = copyMetadata(record.metadata)
  if (record.text !== undefined) match.text = record.text
  if (query.includeVectors) match.vector = Float32Array.from(record.vector)
  return match
}
