// A retrieval set whose right answers are known because the set is built, not annotated. No
// embedding model can be downloaded on the machines this runs on, so the "meaning" of a text is
// the vector the generator gives it: texts about one topic get vectors near that topic's centre.
import { seededRandom } from '@engram/conformance'
import { gaussian } from './clustered-vectors.js'

/** Sizes and seed of a labelled set. */
export interface LabelledSetConfig {
  /** Topics; every 4 consecutive topics share a domain, so their centres are close. */
  topics: number
  /** Records per topic. */
  recordsPerTopic: number
  /** Queries of each of the three kinds. */
  queriesPerKind: number
  /** Numbers per vector. */
  dimension: number
  /** Seed of everything. Default is `17`. */
  seed?: number
}

/** The quality suite's set: 10,000 records (past both SQL stores' 10,000-record term pruning), 300 queries, 384 dimensions. */
export const FULL_LABELLED_SET: LabelledSetConfig = {
  topics: 200,
  recordsPerTopic: 50,
  queriesPerKind: 100,
  dimension: 384,
}
/** The smoke set: the same construction in miniature (384 dimensions still, since the spreads are tuned for them). */
export const SMOKE_LABELLED_SET: LabelledSetConfig = {
  topics: 8,
  recordsPerTopic: 12,
  queriesPerKind: 6,
  dimension: 384,
}

/** One stored record: text drawn from its topic's words, a vector near its topic's centre. */
export interface LabelledRecord {
  /** `q<index>`. */
  id: string
  /** Index of its topic. */
  topic: number
  /** The shared word (one of the facet words) this record carries. */
  facet: string
  /** A token that appears in this record's text and nowhere else. */
  code: string
  /** What the stores index for text search. */
  text: string
  /** Its topic's centre plus noise. */
  vector: Float32Array
}

/** The three kinds of query. */
export type QueryKind = 'paraphrase' | 'exact-term' | 'mixed'

/** The kinds, in the order the tables show them. */
export const QUERY_KINDS: readonly QueryKind[] = ['paraphrase', 'exact-term', 'mixed']

/** A query with the ids of the records that answer it. */
export interface LabelledQuery {
  /** Which of the three kinds it is. */
  kind: QueryKind
  /** What text and hybrid search are given. */
  text: string
  /** What vector and hybrid search are given. */
  vector: Float32Array
  /** Ids of the relevant records. */
  relevant: readonly string[]
}

/** A generated labelled set. */
export interface LabelledSet {
  /** The sizes and seed it was built with. */
  config: Required<LabelledSetConfig>
  /** Every record, topic by topic. */
  records: LabelledRecord[]
  /** Every query: the paraphrases, then the exact-term queries, then the mixed ones. */
  queries: LabelledQuery[]
}

// Real filler words: they occur in many records, as function words do in real text.
const COMMON = [
  'note',
  'update',
  'about',
  'with',
  'from',
  'team',
  'week',
  'plan',
  'after',
  'before',
  'check',
  'status',
  'item',
  'list',
  'today',
  'later',
  'again',
  'more',
  'some',
  'other',
  'first',
  'next',
  'quick',
  'review',
]
const CONSONANTS = 'bdfgklmnprtvz'
const VOWELS = 'aiou'
const TOPIC_WORDS = 12
const QUERY_ONLY_WORDS = 6
const FACETS = 12
const TOPICS_PER_DOMAIN = 4
// Spreads, per dimension, against centres drawn from N(0, 1): a topic lies this far from its
// domain's centre, a record and a query this far from their topic's. Chosen so exact vector
// search finds most but not all of a topic's records for a paraphrase (sibling topics intrude).
const TOPIC_SPREAD = 0.42
const RECORD_SPREAD = 1.45
const QUERY_SPREAD = 1.45

/**
 * Builds the labelled set. Records: a topic's centre plus noise, text of six of the topic's
 * twelve words, one facet word shared across topics, five common words and a unique code.
 * Queries:
 * - **paraphrase**: near the topic's centre, text of three words only queries of that topic use
 *   (no record has them) and one common word, so text search cannot find the topic; relevant:
 *   the topic's records.
 * - **exact-term**: a record's code with the vector of an unrelated topic, so vector search
 *   cannot find it; relevant: that one record.
 * - **mixed**: near a topic's centre, text of one facet word; relevant: the topic's records with
 *   that facet. Vector search cannot tell the facet, and hundreds of records share the word.
 * Everything comes from one seed, so every run and every system sees the same set.
 */
export function labelledSet(given: LabelledSetConfig): LabelledSet {
  const config = { seed: 17, ...given }
  const { topics, recordsPerTopic, queriesPerKind, dimension } = config
  if (topics < TOPICS_PER_DOMAIN * 2) throw new Error(`a labelled set needs at least 8 topics, got ${topics}`)
  // Every (topic, facet) pair then has a record, so every mixed query has an answer.
  if (recordsPerTopic < FACETS)
    throw new Error(`a labelled set needs at least ${FACETS} records per topic, got ${recordsPerTopic}`)
  const random = seededRandom(config.seed)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
  const used = new Set<string>()
  const word = (): string => {
    for (;;) {
      let w = ''
      for (let s = 0; s < 3; s++) w += pick([...CONSONANTS]) + pick([...VOWELS])
      // Every generated word ends in a consonant and "a": no stemmer's suffix rule applies, so
      // each stays one distinct term in every engine (simple, unicode61 and Porter tokenisers).
      w += `${pick([...CONSONANTS])}a`
      if (!used.has(w)) {
        used.add(w)
        return w
      }
    }
  }
  const around = (centre: Float32Array, spread: number) =>
    Float32Array.from(centre, (x) => x + spread * gaussian(random))
  const domains = Array.from({ length: Math.ceil(topics / TOPICS_PER_DOMAIN) }, () =>
    Float32Array.from({ length: dimension }, () => gaussian(random)),
  )
  const centres = Array.from({ length: topics }, (_, t) =>
    around(domains[Math.floor(t / TOPICS_PER_DOMAIN)] as Float32Array, TOPIC_SPREAD),
  )
  const topicWords = centres.map(() => Array.from({ length: TOPIC_WORDS }, word))
  const queryWords = centres.map(() => Array.from({ length: QUERY_ONLY_WORDS }, word))
  const facets = Array.from({ length: FACETS }, word)

  const codes = new Set<string>()
  const code = (): string => {
    for (;;) {
      const c = `${pick([...CONSONANTS])}${pick([...CONSONANTS])}${Math.floor(random() * 1e6)
        .toString()
        .padStart(6, '0')}`
      if (!codes.has(c)) {
        codes.add(c)
        return c
      }
    }
  }
  const records: LabelledRecord[] = []
  for (let t = 0; t < topics; t++) {
    for (let r = 0; r < recordsPerTopic; r++) {
      const own = shuffled(topicWords[t] as string[], random).slice(0, 6)
      const facet = facets[r % FACETS] as string
      const filler = Array.from({ length: 5 }, () => pick(COMMON))
      const c = code()
      records.push({
        id: `q${records.length}`,
        topic: t,
        facet,
        code: c,
        text: [...shuffled([...own, facet, ...filler], random), 'ref', c].join(' '),
        vector: around(centres[t] as Float32Array, RECORD_SPREAD),
      })
    }
  }

  const byTopic = (t: number) => records.filter((r) => r.topic === t)
  const queries: LabelledQuery[] = []
  // Query texts are unique, so a text-only embedder (a memory layer's) gives each its own vector.
  const texts = new Set<string>()
  const add = (kind: QueryKind, draw: () => { text: string; vector: Float32Array; relevant: string[] }) => {
    for (;;) {
      const query = draw()
      if (texts.has(query.text)) continue
      texts.add(query.text)
      queries.push({ kind, ...query })
      return
    }
  }
  for (let i = 0; i < queriesPerKind; i++) {
    add('paraphrase', () => {
      const t = Math.floor(random() * topics)
      return {
        text: [pick(COMMON), ...shuffled(queryWords[t] as string[], random).slice(0, 3)].join(' '),
        vector: around(centres[t] as Float32Array, QUERY_SPREAD),
        relevant: byTopic(t).map((r) => r.id),
      }
    })
  }
  for (let i = 0; i < queriesPerKind; i++) {
    add('exact-term', () => {
      const target = pick(records)
      // A topic of another domain, so the vector points well away from the record.
      let other = Math.floor(random() * topics)
      while (Math.floor(other / TOPICS_PER_DOMAIN) === Math.floor(target.topic / TOPICS_PER_DOMAIN))
        other = (other + TOPICS_PER_DOMAIN) % topics
      return {
        text: `ref ${target.code}`,
        vector: around(centres[other] as Float32Array, QUERY_SPREAD),
        relevant: [target.id],
      }
    })
  }
  for (let i = 0; i < queriesPerKind; i++) {
    add('mixed', () => {
      const t = Math.floor(random() * topics)
      const facet = pick(facets)
      return {
        text: `${pick(COMMON)} ${pick(COMMON)} ${facet}`,
        vector: around(centres[t] as Float32Array, QUERY_SPREAD),
        relevant: byTopic(t)
          .filter((r) => r.facet === facet)
          .map((r) => r.id),
      }
    })
  }
  return { config, records, queries }
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const copy = [...list]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j] as T, copy[i] as T]
  }
  return copy
}

/**
 * The set's "embedding model": each record's and query's text maps to the vector the set gave
 * it. It lets a library that embeds text itself (a memory layer) see the same vectors as the
 * stores; a text the set does not contain is an error, so nothing is silently embedded as noise.
 */
export function lookupEmbedder(set: LabelledSet): (text: string) => Float32Array {
  const vectors = new Map<string, Float32Array>()
  for (const r of set.records) vectors.set(r.text, r.vector)
  for (const q of set.queries) vectors.set(q.text, q.vector)
  return (text) => {
    const vector = vectors.get(text)
    if (!vector) throw new Error(`the labelled set has no vector for the text "${text.slice(0, 60)}"`)
    return vector
  }
}
