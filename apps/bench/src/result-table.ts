import type { Stats } from './measure.js'

/** Who a row measures: the raw driver (the floor), engram, or a library users would otherwise pick. */
export type Role = 'raw' | 'engram' | 'alternative'

/** One system's result in a table; `error` instead of `stats` when it could not run. */
export interface ResultRow {
  /** The system and how it was used, as shown in the table. */
  system: string
  role: Role
  /** Timed operations; absent for a row that only has extra columns or failed. */
  stats?: Stats
  /** Further columns by header (ingest time, recall@10, disk), in `ResultTable.extraColumns` order. */
  extra?: Record<string, string>
  /** Why the system could not run here; printed instead of figures, never left out. */
  error?: string
  /** The backend the row runs on, when a table mixes them: "time vs raw" only compares rows of the raw row's backend. */
  backend?: string
  /** The child process the row ran in, when the suite gave it one: its pid and its peak RSS (VmHWM) in bytes. */
  process?: { pid: number; peakRss: number }
}

/** A table of one suite: one operation on one data set, every system side by side. */
export interface ResultTable {
  suite: string
  title: string
  /** What one unit of throughput is ("reads", "rows", "transactions", "queries"). */
  unit: string
  rows: ResultRow[]
  /** Headers of the extra columns, in order. */
  extraColumns?: string[]
  /** Lines printed under the table. */
  notes?: string[]
  /** Print the two ratio columns; off for tables whose rows are tiers, not rivals. Default is `true`. */
  ratios?: boolean
}

const collected: ResultTable[] = []

/** Every table printed in this process so far (for `--json`). */
export function collectedTables(): readonly ResultTable[] {
  return collected
}

/** Runs `fn` and turns a throw into an error row, so a peer that fails is reported rather than dropped. */
export async function attempt(
  system: string,
  role: Role,
  fn: () => Promise<Omit<ResultRow, 'system' | 'role'>>,
): Promise<ResultRow> {
  try {
    return { system, role, ...(await fn()) }
  } catch (error) {
    return { system, role, error: describeError(error) }
  }
}

/** A one-line description of a thrown value, with its cause when it has one. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : ''
  return `${error.name}: ${error.message}${cause}`.replace(/\s+/g, ' ').slice(0, 300)
}

/** Milliseconds as a short human figure: µs below one millisecond. */
export function formatMs(ms: number): string {
  if (ms < 0.01) return `${(ms * 1000).toFixed(2)} µs`
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`
  if (ms < 100) return `${ms.toFixed(2)} ms`
  if (ms < 10_000) return `${ms.toFixed(0)} ms`
  return `${(ms / 1000).toFixed(1)} s`
}

/** Bytes in MB. */
export function formatMb(bytes: number): string {
  if (Math.abs(bytes) < 1e5) return '0 MB'
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`
}

/** A count or rate with thousands separators and sensible precision. */
export function formatCount(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3)
}

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '-')

/**
 * Prints a table as Markdown and keeps it for `--json`. Besides each row's figures it prints
 * two ratio columns on the median: the row against the raw driver (1.20× = 20% slower than the
 * driver), and engram against the row (1.20× = engram takes 20% longer than this system; below
 * 1 engram is faster). With several engram rows the first is the one compared.
 */
export function printResultTable(table: ResultTable): void {
  collected.push(table)
  const raw = table.rows.find((r) => r.role === 'raw' && r.stats)
  const engram = table.rows.find((r) => r.role === 'engram' && r.stats)
  const extra = table.extraColumns ?? []
  const headers = [
    'system',
    'median',
    'p99',
    `${table.unit}/s`,
    'peak RSS (growth)',
    'heap growth',
    ...extra,
    ...(table.ratios === false ? [] : ['time vs raw', 'engram time vs this']),
  ]
  console.log(`\n#### ${table.title}\n`)
  console.log(`| ${headers.join(' | ')} |`)
  console.log(`|${headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`)
  for (const row of table.rows) {
    const extras = extra.map((h) => row.extra?.[h] ?? '-')
    if (row.error) {
      console.log(
        `| ${row.system} | could not run: ${row.error} | | | | | ${extras.map(() => '').join(' | ')}${table.ratios === false ? '' : ' | | '} |`,
      )
      continue
    }
    const s = row.stats
    const cells = s
      ? [
          formatMs(s.medianMs),
          formatMs(s.p99Ms),
          formatCount(s.throughput),
          `${formatMb(s.peakRss)} (+${formatMb(s.rssGrowth)})`,
          formatMb(s.peakHeapGrowth),
        ]
      : ['-', '-', '-', '-', '-']
    const vsRaw =
      s && raw?.stats && row.backend === raw.backend
        ? row === raw
          ? 'baseline'
          : ratio(s.medianMs, raw.stats.medianMs)
        : '-'
    const vsThis =
      s && engram?.stats ? (row === engram ? 'engram' : ratio(engram.stats.medianMs, s.medianMs)) : '-'
    const ratios = table.ratios === false ? [] : [vsRaw, vsThis]
    console.log(`| ${[row.system, ...cells, ...extras, ...ratios].join(' | ')} |`)
  }
  for (const note of table.notes ?? []) console.log(`\n${note}`)
}
