import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  FULL_LABELLED_SET,
  type LabelledQuery,
  type LabelledSet,
  labelledSet,
  QUERY_KINDS,
  SMOKE_LABELLED_SET,
} from './labelled-set.js'
import { timed, timeEach } from './measure.js'
import { type OpenedSystem, type QualitySystem, qualitySystems, type SearchMode } from './quality-systems.js'
import { describeError, formatMs, printResultTable, type ResultRow } from './result-table.js'
import { type RetrievalScore, scoreByKind } from './retrieval-scores.js'
import type { SuiteOptions } from './suite-options.js'

const TOP_K = 10
const MODES: readonly SearchMode[] = ['vector', 'text', 'hybrid']
const WARM_UP = 10

/** The extra columns of the quality tables, in order. */
export const QUALITY_COLUMNS = [
  'paraphrase R@10 / MRR',
  'exact-term R@10 / MRR',
  'mixed R@10 / MRR',
  'all R@10',
  'all MRR',
  'ingest',
]

const pair = (s: RetrievalScore) => `${s.recall.toFixed(3)} / ${s.mrr.toFixed(3)}`

/**
 * Retrieval quality beside latency, on one labelled set for every system: recall@10 and MRR per
 * query kind for vector, text and hybrid search on each engram store and memory layer, with
 * @framers/agentos's Memory on the same texts and vectors, and each system's latency on the same
 * queries, so a speed is never quoted without the quality it buys.
 */
export async function qualitySuite(options: SuiteOptions): Promise<void> {
  const built = await timed(() => labelledSet(options.smoke ? SMOKE_LABELLED_SET : FULL_LABELLED_SET))
  const set = built.value
  const { topics, recordsPerTopic, dimension, seed } = set.config
  const counts = QUERY_KINDS.map((k) => `${set.queries.filter((q) => q.kind === k).length} ${k}`).join(', ')
  console.log(
    `\n## quality: labelled set, seed ${seed}: ${set.records.length.toLocaleString('en-US')} records (${topics} topics × ${recordsPerTopic}) × ${dimension} dimensions, ${set.queries.length} queries (${counts}); built in ${formatMs(built.ms)}`,
  )
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-quality-'))
  const rows = new Map<SearchMode, ResultRow[]>(MODES.map((m) => [m, []]))
  const unknown: string[] = []
  try {
    const systems = qualitySystems({ folder, pgUrl: options.pgUrl, runId: `${process.pid}` })
    for (const system of systems) {
      const embedded = await runSystem(system, set, rows)
      if (embedded) unknown.push(`${system.system}: ${embedded}`)
    }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
  const notes = [
    `The set is generated, not annotated: no embedding model can be downloaded here, so a text's "meaning" is the vector the generator gave it (its topic's centre plus noise). Paraphrase queries use three words no record has plus one common filler word (text search can only match the filler, in any topic); exact-term queries carry a code found in one record, with the vector of an unrelated topic (vector search cannot find it); mixed queries need both the topic (vector) and a facet word shared by hundreds of records (text). R@10 is capped recall (relevant records in the top 10 out of at most 10); MRR counts the first relevant record in the top 10.`,
    'Memory columns are the whole process: the systems run one after another in one process (with the in-process test servers), so compare their growth, not their peaks.',
    `Latency: each of the ${set.queries.length} queries once, one at a time, after ${WARM_UP} warm-up queries; the SQLite rows first wait for the HNSW index they build in a worker after the load. Every system runs with its defaults; the remote stores run through their real client libraries against engram's in-process test servers (exact search, in this process), so their latency is the client's and the test server's, not the service's.`,
    ...(unknown.length > 0
      ? [
          `Texts outside the set that a memory layer asked to embed (given a constant vector): ${unknown.join('; ')}.`,
        ]
      : []),
  ]
  const titles: Record<SearchMode, string> = {
    vector: 'vector search (the query vector only)',
    text: 'text search (the query text only)',
    hybrid: 'hybrid search (vector and text, fused with RRF)',
  }
  for (const mode of MODES) {
    printResultTable({
      suite: 'quality',
      title: `Quality, ${titles[mode]}, ${set.records.length.toLocaleString('en-US')} records`,
      unit: 'queries',
      rows: rows.get(mode) ?? [],
      extraColumns: QUALITY_COLUMNS,
      notes,
    })
  }
}

/** Loads the set into one system and asks it every query in each of its modes; returns its unknown-text count. */
async function runSystem(
  system: QualitySystem,
  set: LabelledSet,
  rows: Map<SearchMode, ResultRow[]>,
): Promise<number | undefined> {
  let opened: OpenedSystem
  let ingest = '-'
  // Progress on stderr, so stdout stays the report.
  console.error(`quality: loading ${set.records.length} records into ${system.system}`)
  try {
    const loaded = await timed(() => system.open(set))
    opened = loaded.value
    const perSecond = Math.round((set.records.length * 1000) / loaded.ms).toLocaleString('en-US')
    ingest = `${formatMs(loaded.ms)} (${perSecond}/s, ${opened.how})`
  } catch (error) {
    for (const mode of system.modes)
      rows.get(mode)?.push({ system: system.system, role: system.role, error: describeError(error) })
    return undefined
  }
  try {
    for (const mode of system.modes) {
      rows.get(mode)?.push(await runMode(system, opened, mode, set.queries, ingest))
    }
  } finally {
    await opened.close().catch(() => undefined)
  }
  return opened.unknownTexts?.()
}

async function runMode(
  system: QualitySystem,
  opened: OpenedSystem,
  mode: SearchMode,
  queries: readonly LabelledQuery[],
  ingest: string,
): Promise<ResultRow> {
  try {
    for (let i = 0; i < Math.min(WARM_UP, queries.length); i++)
      await opened.search(mode, queries[i] as LabelledQuery)
    const results: string[][] = []
    const stats = await timeEach(queries.length, async (i) => {
      results[i] = await opened.search(mode, queries[i] as LabelledQuery)
    })
    const scores = scoreByKind(queries, results, TOP_K)
    return {
      system: system.system,
      role: system.role,
      stats,
      extra: {
        'paraphrase R@10 / MRR': pair(scores.paraphrase),
        'exact-term R@10 / MRR': pair(scores['exact-term']),
        'mixed R@10 / MRR': pair(scores.mixed),
        'all R@10': scores.all.recall.toFixed(3),
        'all MRR': scores.all.mrr.toFixed(3),
        ingest,
      },
    }
  } catch (error) {
    return { system: system.system, role: system.role, error: describeError(error) }
  }
}
