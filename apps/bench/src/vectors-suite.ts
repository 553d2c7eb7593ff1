import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exactTopK } from './exact-top-k.js'
import { cachedGroundTruth } from './ground-truth.js'
import { timed } from './measure.js'
import { formatMb, formatMs, printResultTable, type ResultRow } from './result-table.js'
import { runInChild } from './row-process.js'
import type { SuiteOptions } from './suite-options.js'
import {
  buildVectorDataset,
  TOP_K,
  VECTOR_COLUMNS,
  type VectorDatasetSpec,
  vectorSeeds,
} from './vector-dataset.js'
import {
  VECTOR_ROW_GROUPS,
  type VectorRowPayload,
  type VectorRowResult,
  type VectorRowSlot,
  type VectorTable,
} from './vector-rows.js'

/** A data set size: `count` records of `dimension` numbers. */
export interface VectorSize {
  count: number
  dimension: number
}

/** The sizes, smallest first so a run cut short still has the cheap rows. */
export const FULL_VECTOR_SIZES: readonly VectorSize[] = [
  { count: 10_000, dimension: 384 },
  { count: 10_000, dimension: 1536 },
  { count: 100_000, dimension: 384 },
]
/** Past the sidecar's 1,000-record threshold, so the ANN path really runs, and still instant. */
export const SMOKE_VECTOR_SIZES: readonly VectorSize[] = [{ count: 1200, dimension: 32 }]

/** Options of the vector suite on top of the common ones. */
export interface VectorsSuiteOptions extends SuiteOptions {
  /** Sizes to run instead of the defaults (`--sizes 10000x384,100000x384`). */
  sizes?: readonly VectorSize[]
}

/** The column with each row's process-wide peak (VmHWM over the child's whole life). */
const PROCESS_PEAK = 'process peak RSS'

/**
 * Exact and ANN search on the same vectors for every system: on the embedded side engram's
 * @engram/sqlite-vector's store without and with the hnsw sidecar, LanceDB, vectra, raw hnswlib-node and a raw
 * in-memory scan; on PostgreSQL engram's PgVectorStore, @mastra/pg's PgVector and raw pgvector
 * SQL. recall@10 is measured against exact ground truth for every row. Each row runs in a
 * process of its own (the data set rebuilt there from its seed), so its memory is its own.
 */
export async function vectorsSuite(options: VectorsSuiteOptions): Promise<void> {
  const sizes = options.sizes ?? (options.smoke ? SMOKE_VECTOR_SIZES : FULL_VECTOR_SIZES)
  const recallQueries = options.smoke ? 10 : 200
  if (options.embeddings) {
    console.log(
      `\nvectors: real embeddings from ${options.embeddings.path}; the last ${recallQueries} are the queries`,
    )
  } else {
    console.log(
      '\nvectors: seeded clustered data (200 Gaussian centres, σ 0.6 per dimension), held-out queries from the same centres',
    )
  }
  for (const size of sizes) {
    const folder = mkdtempSync(join(tmpdir(), 'engram-bench-vectors-'))
    try {
      await runSize(
        {
          count: size.count,
          dimension: size.dimension,
          recallQueries,
          smoke: options.smoke,
          folder,
          ...(options.embeddings ? { embeddings: options.embeddings } : {}),
        },
        options,
      )
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  }
}

/** The cache key of a data set's ground truth: what generated it (or which file, as it is now) and its sizes. */
function truthKey(spec: VectorDatasetSpec): string {
  const sizes = `${spec.count}x${spec.dimension}-${spec.recallQueries}q-top${TOP_K}`
  if (!spec.embeddings) {
    const seeds = vectorSeeds(spec.dimension)
    return `clustered-c1-s${seeds.data}-q${seeds.queries}-${sizes}`
  }
  const info = statSync(spec.embeddings.path)
  const file = createHash('sha256')
    .update(`${spec.embeddings.path}\0${info.size}\0${info.mtimeMs}\0${spec.embeddings.dimension ?? ''}`)
    .digest('hex')
    .slice(0, 16)
  return `file-${file}-${sizes}`
}

async function runSize(partial: VectorDatasetSpec, options: VectorsSuiteOptions): Promise<void> {
  const made = await timed(() =>
    cachedGroundTruth(truthKey(partial), () => {
      const ds = buildVectorDataset(partial)
      const search = exactTopK(ds.data)
      return ds.queries.map((q) => search(q, TOP_K))
    }),
  )
  const spec: VectorDatasetSpec = { ...partial, truthFile: made.value.file }
  // The parent builds the set only for its label and counts, and lets it go; each child builds its own.
  const ds = (({ label, data, queries, slowQueries, fastQueries }) => ({
    label,
    count: data.length,
    queries: queries.length,
    slowQueries,
    fastQueries,
  }))(buildVectorDataset(spec))
  const truthNote = made.value.cached
    ? `read from the cache in ${formatMs(made.ms)}`
    : `in ${formatMs(made.ms)}`
  console.log(
    `\n## vectors: ${ds.label}, cosine, top ${TOP_K}; ground truth for ${ds.queries} queries ${truthNote}`,
  )
  if (ds.count < partial.count) console.log(`(only ${ds.count} vectors in the file, not ${partial.count})`)
  const timing = `Timed: ${ds.slowQueries} sequential queries for scanning systems, ${ds.fastQueries} for indexed ones (fewer when a row passes 30 s; at least 20), one query at a time; recall over the first ${Math.min(ds.queries, ds.slowQueries)} or ${Math.min(ds.queries, ds.fastQueries)} queries respectively.`

  const placed: Array<{ slot: VectorRowSlot; row: ResultRow }> = []
  const baselines: number[] = []
  for (const [group, { slots }] of Object.entries(VECTOR_ROW_GROUPS)) {
    const payload: VectorRowPayload = { group, spec, pgUrl: options.pgUrl }
    const outcome = await runInChild<VectorRowResult>('vector-row', payload)
    slots.forEach((slot, i) => {
      const row: ResultRow = outcome.ok
        ? (outcome.value.rows[i] ?? {
            system: slot.system,
            role: slot.role,
            error: 'the process gave no row',
          })
        : { system: slot.system, role: slot.role, error: `its process failed: ${outcome.reason}` }
      if (outcome.ok) {
        row.extra = { ...row.extra, [PROCESS_PEAK]: formatMb(outcome.maxRss) }
        row.process = { pid: outcome.pid, peakRss: outcome.maxRss }
      }
      placed.push({ slot, row })
    })
    if (outcome.ok) baselines.push(outcome.value.baselineRss)
  }
  const table = (name: VectorTable) =>
    placed
      .filter((p) => p.slot.table === name)
      .sort((a, b) => a.slot.position - b.slot.position)
      .map((p) => p.row)
  const baseline =
    baselines.length > 0
      ? `between ${formatMb(Math.min(...baselines))} and ${formatMb(Math.max(...baselines))}`
      : 'an unknown amount'
  const processes = `Each system runs in a process of its own (LanceDB's two rows share one, as do the three PostgreSQL rows), which rebuilds the data set from its seed, so every memory figure is that system's own plus the harness: each process held ${baseline} (Node, the libraries it loaded and the data set) before its row started. "${PROCESS_PEAK}" is the process's high-water mark over its whole life (the kernel's VmHWM), which also catches peaks between samples.`
  const columns = [...VECTOR_COLUMNS, PROCESS_PEAK]
  printResultTable({
    suite: 'vectors',
    title: `Exact search, ${ds.label} (embedded)`,
    unit: 'queries',
    rows: table('exact'),
    extraColumns: columns,
    notes: [timing, processes],
  })
  printResultTable({
    suite: 'vectors',
    title: `ANN search, ${ds.label} (embedded)`,
    unit: 'queries',
    rows: table('ann'),
    extraColumns: columns,
    notes: [timing, processes],
  })
  printResultTable({
    suite: 'vectors',
    title: `ANN search, ${ds.label} (PostgreSQL + pgvector HNSW, m 16, ef_construction 64, ef_search 40)`,
    unit: 'queries',
    rows: table('postgres'),
    extraColumns: columns,
    notes: [
      timing,
      processes,
      'PostgreSQL runs on the same 2 cores as the client; its memory is not in these figures.',
    ],
  })
}
