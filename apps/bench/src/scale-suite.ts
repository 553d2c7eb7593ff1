import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { clusteredBatches, clusteredVectors } from './clustered-vectors.js'
import { cachedGroundTruth, streamingTopK } from './ground-truth.js'
import { timed } from './measure.js'
import { formatMb, formatMs, printResultTable, type ResultRow } from './result-table.js'
import { type ChildOutcome, type Progress, runInChild } from './row-process.js'
import { extrapolationTable, type MeasuredPoint } from './scale-extrapolation.js'
import type { ScalePointPayload, ScalePointResult } from './scale-point.js'
import { SCALE_TIERS, type ScaleTier, TIER_LABELS } from './scale-tiers.js'
import type { SuiteOptions } from './suite-options.js'
import { TOP_K, vectorSeeds } from './vector-dataset.js'
import type { VectorSize } from './vectors-suite.js'

/** The issue's scale path: 10k, 100k and 500k × 384. */
export const FULL_SCALE_SIZES: readonly VectorSize[] = [
  { count: 10_000, dimension: 384 },
  { count: 100_000, dimension: 384 },
  { count: 500_000, dimension: 384 },
]
/** Past the sidecar's 1,000-record threshold, and instant. */
export const SMOKE_SCALE_SIZES: readonly VectorSize[] = [{ count: 2000, dimension: 32 }]

/** Options of the scale suite on top of the common ones. */
export interface ScaleSuiteOptions extends SuiteOptions {
  /** Sizes instead of the defaults (`--sizes`). */
  sizes?: readonly VectorSize[]
  /** Tiers to run (`--tiers`). Default is all three. */
  tiers?: readonly ScaleTier[]
  /** Wall time one point (a tier at a size) may take before it is stopped, in minutes (`--point-minutes`). Default is `60`. */
  pointMinutes?: number
  /** Resident set one point's process may reach before it is stopped, in GiB (`--max-rss-gib`). Default is `12`. */
  maxRssGiB?: number
}

/** The extra columns of the scale tables. */
const SCALE_COLUMNS = [
  'ingest',
  'index build',
  'first query',
  'recall@10',
  'on disk',
  'process peak RSS',
  'RSS ingest / build / queries',
  'server backend peak RSS',
]

const uptime = (): string => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim()
  } catch {
    return `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`
  }
}

/**
 * The scale path on this machine: SQLite exact, SQLite + HNSW and pgvector at each size, each
 * point (a tier at a size) in a process of its own that streams the seeded data in, with a time
 * and memory budget. A point that passes its budget is stopped and reported with where it was;
 * the tier's larger sizes are then skipped. recall@10 is against a brute-force ground truth
 * computed once per size and cached on disk. Ends with an extrapolation beyond the last size
 * each tier reached, labelled as such.
 */
export async function scaleSuite(options: ScaleSuiteOptions): Promise<void> {
  const sizes = options.sizes ?? (options.smoke ? SMOKE_SCALE_SIZES : FULL_SCALE_SIZES)
  const tiers = options.tiers ?? SCALE_TIERS
  const queries = options.smoke ? 20 : 200
  const maxMs = (options.pointMinutes ?? 60) * 60_000
  const maxRssBytes = (options.maxRssGiB ?? 12) * 2 ** 30
  console.log(
    `\n## scale: ${tiers.join(', ')} at ${sizes.map((s) => `${s.count.toLocaleString('en-US')} × ${s.dimension}`).join(', ')}; seeded clustered data (200 centres, σ 0.6, the vector suite's), ${queries} held-out queries, top ${TOP_K}; budget per point ${Math.round(maxMs / 60_000)} min and ${(maxRssBytes / 2 ** 30).toFixed(0)} GiB RSS\n\nstart: ${uptime()}`,
  )
  const measured = new Map<ScaleTier, MeasuredPoint[]>(tiers.map((t) => [t, []]))
  const stoppedAt = new Map<ScaleTier, string>()
  const root = mkdtempSync(join(tmpdir(), 'engram-bench-scale-'))
  try {
    for (const size of sizes) {
      const seeds = vectorSeeds(size.dimension)
      const truth = await timed(() =>
        cachedGroundTruth(
          `clustered-c1-s${seeds.data}-q${seeds.queries}-${size.count}x${size.dimension}-${queries}q-top${TOP_K}`,
          () =>
            streamingTopK(
              clusteredVectors({ count: queries, dimension: size.dimension, seed: seeds.queries }),
              clusteredBatches({ count: size.count, dimension: size.dimension, seed: seeds.data }, 10_000),
              TOP_K,
            ),
        ),
      )
      const label = `${size.count.toLocaleString('en-US')} × ${size.dimension}`
      console.log(
        `\n### scale: ${label}; ground truth ${truth.value.cached ? `read from ${truth.value.file}` : `computed in ${formatMs(truth.ms)} and cached in ${truth.value.file}`}`,
      )
      const rows: ResultRow[] = []
      const loads: string[] = []
      for (const tier of tiers) {
        const skipped = stoppedAt.get(tier)
        if (skipped) {
          rows.push({ system: TIER_LABELS[tier], role: 'engram', error: `not run: ${skipped}` })
          continue
        }
        const payload: ScalePointPayload = {
          tier,
          count: size.count,
          dimension: size.dimension,
          queries,
          smoke: options.smoke,
          truthFile: truth.value.file,
          folder: join(root, `${tier}-${size.count}`),
          pgUrl: options.pgUrl,
          runId: `${process.pid}_${size.count}`,
        }
        const onProgress = (p: Progress) =>
          console.error(`scale ${tier} ${label}: ${Object.values(p).join(' ')} (${uptime()})`)
        const outcome = await runInChild<ScalePointResult>('scale-point', payload, {
          maxMs,
          maxRssBytes,
          onProgress,
        })
        rmSync(payload.folder, { recursive: true, force: true })
        loads.push(`${tier} ${loadavg()[0]?.toFixed(1)}`)
        if (!outcome.ok) {
          const where = describeStop(outcome, size.count)
          stoppedAt.set(tier, `the ${label} point ${where}`)
          rows.push({ system: TIER_LABELS[tier], role: 'engram', error: where })
          continue
        }
        measured.get(tier)?.push({ count: size.count, result: outcome.value, maxRss: outcome.maxRss })
        rows.push({
          ...scaleRow(tier, outcome.value, outcome.maxRss),
          process: { pid: outcome.pid, peakRss: outcome.maxRss },
        })
      }
      printResultTable({
        suite: 'scale',
        title: `Scale path, ${label}, cosine, top ${TOP_K}`,
        unit: 'queries',
        rows,
        extraColumns: SCALE_COLUMNS,
        ratios: false,
        notes: [
          `One process per tier, streaming the data in (it never holds the whole set), so every memory figure is the tier's own plus Node and the ${queries} queries. "index build" runs from the end of the ingest until the index answers and holds every record (pgvector: buildIndex and ANALYZE). Query latency: one query at a time after a warm-up; up to 1,000 queries (60 s) on indexed tiers, up to ${queries} (120 s, at least 20) on the exact tier; recall@10 over the first pass of the held-out queries.`,
          'PostgreSQL runs on the same 2 cores; its memory is the server backends\' peak (VmHWM, shared buffers they touched included), not in "process peak RSS".',
          `Load average (1 min) as each tier finished: ${loads.join(', ')} (2 cores; other work shares them).`,
        ],
      })
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  const largest = sizes[sizes.length - 1]?.count ?? 0
  console.log(extrapolationTable(measured, stoppedAt, largest, totalmem()))
  console.log(`\nend: ${uptime()}`)
}

/** Where a stopped point was, from its last progress report. */
function describeStop(outcome: Extract<ChildOutcome<unknown>, { ok: false }>, count: number): string {
  const p = outcome.lastProgress
  const at =
    p?.phase === 'ingest' && typeof p.done === 'number'
      ? `during the ingest, after ${p.done.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} records`
      : p?.phase
        ? `during the ${p.phase}`
        : 'before it started'
  return `${outcome.reason} ${at}, ${formatMs(outcome.ms)} in`
}

function scaleRow(tier: ScaleTier, r: ScalePointResult, maxRss: number): ResultRow {
  const disk = Object.entries(r.disk)
  const total = disk.reduce((sum, [, bytes]) => sum + bytes, 0)
  const build = r.buildMs === undefined ? '-' : r.builtDuringIngest ? 'during ingest' : formatMs(r.buildMs)
  return {
    system: TIER_LABELS[tier],
    role: 'engram',
    stats: r.query,
    extra: {
      ingest: formatMs(r.ingestMs),
      'index build': build,
      'first query': formatMs(r.firstQueryMs),
      'recall@10': `${r.recall.toFixed(4)} (${r.recallQueries} q)`,
      'on disk': `${formatMb(total)} (${disk.map(([part, bytes]) => `${part} ${formatMb(bytes)}`).join(', ')})`,
      'process peak RSS': formatMb(maxRss),
      'RSS ingest / build / queries': [r.phaseRss.ingest, r.phaseRss.build, r.phaseRss.queries]
        .map(formatMb)
        .join(' / '),
      'server backend peak RSS': r.serverPeakRss === undefined ? '-' : formatMb(r.serverPeakRss),
    },
  }
}
