import { formatMb, formatMs } from './result-table.js'
import type { ScalePointResult } from './scale-point.js'
import { type ScaleTier, TIER_LABELS } from './scale-tiers.js'

/** One measured point of a tier: its size, what it measured and its process's peak RSS. */
export interface MeasuredPoint {
  /** Records. */
  count: number
  /** What the point measured. */
  result: ScalePointResult
  /** Its process's peak RSS (VmHWM), in bytes. */
  maxRss: number
}

/** Sizes the extrapolation projects to, when they are past a tier's last measured size. */
export const PROJECTED_SIZES = [1_000_000, 5_000_000, 10_000_000]
/** The latency a tier is said to outgrow: p99 of one query. */
const LATENCY_LIMIT_MS = 100

/** A metric as a power law through two points: value = at × (n / from)^exponent. */
interface PowerLaw {
  from: number
  at: number
  exponent: number
}

/** The power law through (n1, v1) and (n2, v2), or `undefined` when either value is not positive. */
export function powerLaw(n1: number, v1: number, n2: number, v2: number): PowerLaw | undefined {
  if (!(v1 > 0 && v2 > 0 && n2 > n1)) return undefined
  // A metric that fell between the sizes (noise, or a cache that stopped fitting below) is held flat.
  return { from: n2, at: v2, exponent: Math.max(0, Math.log(v2 / v1) / Math.log(n2 / n1)) }
}

/** The law's value at `n`. */
export function project(law: PowerLaw, n: number): number {
  return law.at * (n / law.from) ** law.exponent
}

/** The size at which the law reaches `limit`, or `undefined` if it never grows. */
export function sizeAt(law: PowerLaw, limit: number): number | undefined {
  if (law.at >= limit) return law.from
  if (law.exponent <= 0) return undefined
  return law.from * (limit / law.at) ** (1 / law.exponent)
}

const count = (n: number) => {
  if (n >= 1e9) return 'beyond 1,000M'
  if (n >= 1e6) return `~${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`
  return `~${Math.round(n / 1000).toLocaleString('en-US')}k`
}

/**
 * The memory that bounds a tier: for the SQLite tiers the process's peak above what it held
 * before the store opened (Node and the queries, which do not grow with the data), for pgvector
 * the index size (an HNSW index has to stay in the page cache to be fast).
 */
function boundingMemory(tier: ScaleTier, p: MeasuredPoint): number {
  return tier === 'pgvector' ? (p.result.disk.index ?? 0) : Math.max(0, p.maxRss - p.result.baselineRss)
}

/**
 * The closing Markdown of the scale suite: each tier's measured ceiling on this machine (the
 * largest size it completed and, if it was stopped, where and why), then a projection past it,
 * labelled as such: each metric as a power law through the tier's two largest measured sizes
 * (its exponent shown), and the sizes at which p99 would pass 100 ms and the bounding memory
 * would pass this machine's RAM.
 */
export function extrapolationTable(
  measured: ReadonlyMap<ScaleTier, MeasuredPoint[]>,
  stoppedAt: ReadonlyMap<ScaleTier, string>,
  largestAsked: number,
  ramBytes: number,
): string {
  const lines: string[] = ['', '#### Scale path: measured ceiling per tier (this machine)', '']
  lines.push('| tier | largest size measured | p50 / p99 there | recall@10 | peak RSS | on disk | stopped |')
  lines.push('|---|---:|---:|---:|---:|---:|---|')
  for (const [tier, points] of measured) {
    const last = points[points.length - 1]
    const stopped = stoppedAt.get(tier) ?? (last && last.count >= largestAsked ? 'no: every size ran' : '-')
    if (!last) {
      lines.push(`| ${TIER_LABELS[tier]} | none | - | - | - | - | ${stopped} |`)
      continue
    }
    const disk = Object.values(last.result.disk).reduce((a, b) => a + b, 0)
    lines.push(
      `| ${TIER_LABELS[tier]} | ${last.count.toLocaleString('en-US')} | ${formatMs(last.result.query.medianMs)} / ${formatMs(last.result.query.p99Ms)} | ${last.result.recall.toFixed(4)} | ${formatMb(last.maxRss)} | ${formatMb(disk)} | ${stopped} |`,
    )
  }
  lines.push(
    '',
    `#### Scale path: EXTRAPOLATED beyond the last measured size (not measured)`,
    '',
    "Method: each metric is a power law through the tier's two largest measured sizes, value(N) = value(N₂) × (N / N₂)^α with α = ln(v₂ / v₁) / ln(N₂ / N₁) (α shown; a metric that fell is held flat). It assumes the tier keeps the behaviour it had between those sizes: no new cache boundary, no spill to disk, the same machine load. The bounding memory is, for the SQLite tiers, the process's peak RSS above what it held before the store opened; for pgvector, the size of its indexes (an HNSW index that no longer fits in RAM is read from disk).",
    '',
    `| tier | N | p50 | p99 | ingest | index build | on disk | bounding memory | p99 passes ${LATENCY_LIMIT_MS} ms at | memory passes RAM (${formatMb(ramBytes)}) at |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  )
  for (const [tier, points] of measured) {
    const [a, b] = points.slice(-2)
    if (!a || !b) {
      lines.push(`| ${TIER_LABELS[tier]} | - | needs two measured sizes | | | | | | | |`)
      continue
    }
    const law = (pick: (p: MeasuredPoint) => number | undefined) => {
      const v1 = pick(a)
      const v2 = pick(b)
      return v1 === undefined || v2 === undefined ? undefined : powerLaw(a.count, v1, b.count, v2)
    }
    const diskOf = (p: MeasuredPoint) => Object.values(p.result.disk).reduce((x, y) => x + y, 0)
    const laws = {
      p50: law((p) => p.result.query.medianMs),
      p99: law((p) => p.result.query.p99Ms),
      ingest: law((p) => p.result.ingestMs),
      build: law((p) => (p.result.builtDuringIngest ? undefined : p.result.buildMs)),
      disk: law(diskOf),
      memory: law((p) => boundingMemory(tier, p)),
    }
    const cell = (l: PowerLaw | undefined, n: number, format: (v: number) => string) =>
      l ? `${format(project(l, n))} (α ${l.exponent.toFixed(2)})` : '-'
    const crossing = (l: PowerLaw | undefined, limit: number) => {
      if (!l) return '-'
      if (l.at >= limit) return `already at ${count(l.from).replace('~', '')} (measured)`
      const n = sizeAt(l, limit)
      return n === undefined ? 'never (flat)' : count(n)
    }
    for (const n of PROJECTED_SIZES.filter((size) => size > b.count)) {
      lines.push(
        `| ${TIER_LABELS[tier]} | ${count(n)} | ${cell(laws.p50, n, formatMs)} | ${cell(laws.p99, n, formatMs)} | ${cell(laws.ingest, n, formatMs)} | ${cell(laws.build, n, formatMs)} | ${cell(laws.disk, n, formatMb)} | ${cell(laws.memory, n, formatMb)} | ${crossing(laws.p99, LATENCY_LIMIT_MS)} | ${crossing(laws.memory, ramBytes)} |`,
      )
    }
  }
  return lines.join('\n')
}
