import {
  type CollectionSpec,
  FILTER_OPERATORS,
  type FilterNode,
  type Metadata,
  matchesFilter,
  reciprocalRankFusion,
  type StoreDeleteTarget,
  type StoredCollection,
  type StoreQuery,
  type StoreScanOptions,
  similarity,
  specMismatch,
  type ValidRecord,
  type VectorCapabilities,
  type VectorMatch,
  type VectorMetric,
  type VectorRecord,
  type VectorStore,
  VectorStoreBase,
} from '@engram/core'

/** Options for `createReferenceVectorStore`. */
export interface ReferenceVectorStoreConfig {
  /** Whether text and hybrid queries are supported. Default is `true`. */
  hybrid?: boolean
  /** The filter operators honoured; others are `UNSUPPORTED`. Default is all of them. */
  operators?: readonly string[]
  /** The metrics accepted; others are `UNSUPPORTED`. Default is all of them. */
  metrics?: readonly VectorMetric[]
  /** Whether range operators may compare strings; `false` makes string ranges `UNSUPPORTED`. Default is `true`. */
  stringRanges?: boolean
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

interface Collection extends StoredCollection {
  readonly records: Map<string, StoredRecord>
}

interface Ranked {
  record: StoredRecord
  score: number
}

/**
 * Each method receives arguments the base class has already checked (names, ids, records,
 * the query, the filter tree), so a store only has to do the work.
 */
class ReferenceVectorStore extends VectorStoreBase<Collection> {
  readonly kind = 'reference'
  readonly capabilities: VectorCapabilities
  readonly #collections = new Map<string, Collection>()

  constructor(config: ReferenceVectorStoreConfig) {
    super()
    this.capabilities = Object.freeze({
      hybrid: config.hybrid ?? true,
      operators: Object.freeze([...(config.operators ?? FILTER_OPERATORS)]),
      metrics: Object.freeze([...(config.metrics ?? (['cosine', 'dot', 'euclidean'] as const))]),
      maxDimension: MAX_DIMENSION,
      exact: true,
      stringRanges: config.stringRanges ?? true,
    })
  }

  protected async findCollection(name: string): Promise<Collection | undefined> {
    return this.#collections.get(name)
  }

  protected async addCollection(name: string, spec: Required<CollectionSpec>): Promise<void> {
    const existing = this.#collections.get(name)
    if (existing) {
      if (existing.dimension !== spec.dimension || existing.metric !== spec.metric) {
        throw specMismatch(name, existing, spec)
      }
      return
    }
    this.#collections.set(name, { name, ...spec, records: new Map() })
  }

  protected async removeCollection(name: string): Promise<void> {
    this.#collections.delete(name)
  }

  protected async collectionNames(): Promise<string[]> {
    return [...this.#collections.keys()]
  }

  protected async upsertRecords(collection: Collection, records: ValidRecord[]): Promise<void> {
    for (const record of records) collection.records.set(record.id, indexText(record))
  }

  protected async searchRecords(collection: Collection, query: StoreQuery): Promise<VectorMatch[]> {
    const { records, metric } = collection
    const candidates = [...records.values()].filter((record) => matches(query.filter, record))
    if (query.mode === 'vector') {
      return rankByVector(candidates, metric, query)
        .slice(0, query.topK)
        .map(({ record, score }) => toMatch(record, score, query))
    }
    const textList = rankByText(candidates, records, query.text)
    if (query.mode === 'text') {
      return textList.slice(0, query.topK).map(({ record, score }) => toMatch(record, score, query))
    }
    // Hybrid fuses the full filtered lists, so its scores equal RRF over the two single-mode queries.
    const vectorList = rankByVector(candidates, metric, query)
    const fused = reciprocalRankFusion([vectorList.map((r) => r.record), textList.map((r) => r.record)], {
      k: query.rrfK,
      limit: query.topK,
    })
    return fused.map(({ id, score }) => toMatch(records.get(id) as StoredRecord, score, query))
  }

  protected async getRecords(collection: Collection, ids: string[]): Promise<VectorRecord[]> {
    return ids.flatMap((id) => {
      const record = collection.records.get(id)
      return record ? [toRecord(record)] : []
    })
  }

  protected async deleteRecords(collection: Collection, target: StoreDeleteTarget): Promise<number> {
    const { records } = collection
    const doomed =
      'ids' in target
        ? target.ids.filter((id) => records.has(id))
        : [...records.values()].filter((record) => matches(target.filter, record)).map((r) => r.id)
    for (const id of doomed) records.delete(id)
    return doomed.length
  }

  protected async countRecords(collection: Collection, filter: FilterNode | undefined): Promise<number> {
    let n = 0
    for (const record of collection.records.values()) if (matches(filter, record)) n++
    return n
  }

  protected async *scanRecords(
    collection: Collection,
    options: StoreScanOptions,
  ): AsyncIterable<VectorRecord[]> {
    // A snapshot, so writes made while the caller consumes batches neither repeat nor skip records.
    const matching = [...collection.records.values()].filter((record) => matches(options.filter, record))
    for (let start = 0; start < matching.length; start += options.batchSize) {
      yield matching.slice(start, start + options.batchSize).map(toRecord)
    }
  }

  protected async closeResources(): Promise<void> {
    this.#collections.clear()
  }
}

/** Whether a record passes an optional filter; no filter matches everything. */
function matches(filter: FilterNode | undefined, record: StoredRecord): boolean {
  return filter === undefined || matchesFilter(filter, record.metadata)
}

/** Every candidate with its similarity to the query vector, best first, ties by id. */
function rankByVector(
  candidates: readonly StoredRecord[],
  metric: VectorMetric,
  query: StoreQuery,
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

function toRecord(record: StoredRecord): VectorRecord {
  const out: VectorRecord = { id: record.id, vector: Float32Array.from(record.vector) }
  if (record.metadata !== undefined) out.metadata = copyMetadata(record.metadata)
  if (record.text !== undefined) out.text = record.text
  return out
}

function toMatch(record: StoredRecord, score: number, query: StoreQuery): VectorMatch {
  const match: VectorMatch = { id: record.id, score }
  if (record.metadata !== undefined) match.metadata = copyMetadata(record.metadata)
  if (record.text !== undefined) match.text = record.text
  if (query.includeVectors) match.vector = Float32Array.from(record.vector)
  return match
}
