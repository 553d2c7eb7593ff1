import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clusteredVectors } from './clustered-vectors.js'
import { engramAnn, engramExact, lance, rawBruteForce, rawHnswlib, vectra } from './embedded-vectors.js'
import { exactTopK } from './exact-top-k.js'
import { loadEmbeddings } from './load-embeddings.js'
import { timed } from './measure.js'
import { postgresVectors } from './postgres-vectors.js'
import { formatMs, printResultTable, type ResultRow } from './result-table.js'
import type { SuiteOptions } from './suite-options.js'
import { TOP_K, VECTOR_COLUMNS, type VectorDataset } from './vector-dataset.js'

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

/**
 * Exact and ANN search on the same vectors for every system: on the embedded side engram's
 * @engram/sqlite-vector's store without and with the hnsw sidecar, LanceDB, vectra, raw hnswlib-node and a raw
 * in-memory scan; on PostgreSQL engram's PgVectorStore, @mastra/pg's PgVector and raw pgvector
 * SQL. recall@10 is measured against exact ground truth for every row.
 */
export async function vectorsSuite(options: VectorsSuiteOptions): Promise<void> {
  const sizes = options.sizes ?? (options.smoke ? SMOKE_VECTOR_SIZES : FULL_VECTOR_SIZES)
  const recallQueries = options.smoke ? 10 : 200
  const real = options.embeddings ? loadEmbeddings(options.embeddings) : undefined
  if (real) {
    console.log(
      `\nvectors: ${real.vectors.length.toLocaleString('en-US')} real ${real.dimension}-dimension embeddings from ${options.embeddings?.path}; the last ${recallQueries} are the queries`,
    )
  } else {
    console.log(
      '\nvectors: seeded clustered data (200 Gaussian centres, σ 0.6 per dimension), held-out queries from the same centres',
    )
  }
  for (const size of sizes) {
    const folder = mkdtempSync(join(tmpdir(), 'engram-bench-vectors-'))
    try {
      await runDataset(dataset(size, recallQueries, folder, options, real), options)
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  }
}

function dataset(
  size: VectorSize,
  recallQueries: number,
  folder: string,
  options: VectorsSuiteOptions,
  real: { dimension: number; vectors: Float32Array[] } | undefined,
): Omit<VectorDataset, 'truth'> {
  let data: Float32Array[]
  let queries: Float32Array[]
  if (real) {
    // Queries are held out from the end of the file, so they are never in the data.
    const available = real.vectors.length - recallQueries
    if (available <= 0) throw new Error(`the embeddings file needs more than ${recallQueries} vectors`)
    data = real.vectors.slice(0, Math.min(size.count, available))
    queries = real.vectors.slice(-recallQueries)
    if (data.length < size.count) console.log(`(only ${data.length} vectors in the file, not ${size.count})`)
  } else {
    const dataSeed = 3 + size.dimension
    data = clusteredVectors({ count: size.count, dimension: size.dimension, seed: dataSeed })
    // Held-out queries: their seed must never be the data's, or they would be copies of it.
    const querySeed = dataSeed === 7 ? 8 : 7
    queries = clusteredVectors({ count: recallQueries, dimension: size.dimension, seed: querySeed })
  }
  const dimension = data[0]?.length ?? size.dimension
  return {
    label: `${data.length.toLocaleString('en-US')} × ${dimension}`,
    dimension,
    data,
    queries,
    // Scans cost about a microsecond per vector per query; keep their timed runs to seconds.
    slowQueries: options.smoke ? 5 : Math.max(20, Math.min(200, Math.round(2e7 / (data.length * dimension)))),
    fastQueries: options.smoke ? 20 : 1000,
    folder,
  }
}

async function runDataset(
  partial: Omit<VectorDataset, 'truth'>,
  options: VectorsSuiteOptions,
): Promise<void> {
  const truth = await timed(() => {
    const search = exactTopK(partial.data)
    return partial.queries.map((q) => search(q, TOP_K))
  })
  const ds: VectorDataset = { ...partial, truth: truth.value }
  console.log(
    `\n## vectors: ${ds.label}, cosine, top ${TOP_K}; ground truth for ${ds.queries.length} queries in ${formatMs(truth.ms)}`,
  )
  const timing = `Timed: ${ds.slowQueries} sequential queries for scanning systems, ${ds.fastQueries} for indexed ones (fewer when a row passes 30 s; at least 20), one process, one query at a time; recall over the first ${Math.min(ds.queries.length, ds.slowQueries)} or ${Math.min(ds.queries.length, ds.fastQueries)} queries respectively.`

  const raw = await rawBruteForce(ds)
  const engram = await engramExact(ds)
  const lanceRows = await lance(ds)
  const exact: ResultRow[] = [raw, engram, lanceRows.exact, await vectra(ds)]
  printResultTable({
    suite: 'vectors',
    title: `Exact search, ${ds.label} (embedded)`,
    unit: 'queries',
    rows: exact,
    extraColumns: VECTOR_COLUMNS,
    notes: [timing],
  })

  const ann: ResultRow[] = [await rawHnswlib(ds), await engramAnn(ds), lanceRows.ann]
  printResultTable({
    suite: 'vectors',
    title: `ANN search, ${ds.label} (embedded)`,
    unit: 'queries',
    rows: ann,
    extraColumns: VECTOR_COLUMNS,
    notes: [timing],
  })

  printResultTable({
    suite: 'vectors',
    title: `ANN search, ${ds.label} (PostgreSQL + pgvector HNSW, m 16, ef_construction 64, ef_search 40)`,
    unit: 'queries',
    rows: await postgresVectors(ds, options.pgUrl),
    extraColumns: VECTOR_COLUMNS,
    notes: [timing, 'PostgreSQL runs on the same 2 cores as the client.'],
  })
}
