/** One benchmarked operation: a name and an async or sync function doing one unit of work. */
export interface Case {
  /** Shown in the results table. */
  name: string
  /** Does one unit of work. */
  run: () => unknown
}

/** The result of measuring one case with `compare`. */
export interface Measurement {
  /** The case's name. */
  name: string
  /** Median operations per second over the rounds. */
  opsPerSec: number
  /** Median time per operation, in microseconds. */
  usPerOp: number
  /** Relative spread between the rounds' slowest and fastest, as a fraction of the median. */
  spread: number
}

/**
 * Measures cases side by side: rounds alternate between the cases so drift in machine speed
 * hits each of them alike, and the median round is reported.
 */
export async function compare(
  cases: readonly Case[],
  options: { rounds?: number; roundMs?: number } = {},
): Promise<Measurement[]> {
  const rounds = options.rounds ?? 15
  const roundMs = options.roundMs ?? 200
  const samples = cases.map(() => [] as number[])
  // Warm up every case (JIT, statement caches) before measuring.
  for (const c of cases) await timeFor(c, roundMs)
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) samples[i]?.push(await timeFor(c, roundMs))
  }
  return cases.map((c, i) => {
    const sorted = (samples[i] ?? []).sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0
    const spread = ((sorted[sorted.length - 1] ?? 0) - (sorted[0] ?? 0)) / median
    return { name: c.name, opsPerSec: median, usPerOp: 1e6 / median, spread }
  })
}

/** Runs `c` repeatedly for about `ms` milliseconds and returns its rate in operations per second. */
async function timeFor(c: Case, ms: number): Promise<number> {
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < ms) {
    for (let i = 0; i < 16; i++) {
      const result = c.run()
      if (result instanceof Promise) await result
    }
    ops += 16
    now = performance.now()
  }
  return (ops * 1000) / (now - start)
}

/** Prints `compare` measurements as a Markdown table, with each case's overhead relative to the first. */
export function printTable(title: string, rows: readonly Measurement[]): void {
  const base = rows[0]
  console.log(`\n### ${title}\n`)
  console.log('| case | ops/s | µs/op | vs first | spread |')
  console.log('|---|---:|---:|---:|---:|')
  for (const row of rows) {
    const relative = base
      ? `${(((base.opsPerSec - row.opsPerSec) / base.opsPerSec) * 100).toFixed(1)}% slower`
      : ''
    console.log(
      `| ${row.name} | ${Math.round(row.opsPerSec).toLocaleString('en-US')} | ${row.usPerOp.toFixed(2)} | ${row === base ? 'baseline' : relative} | ±${(row.spread * 50).toFixed(1)}% |`,
    )
  }
}

/** Latency, throughput and memory of one case, as the suites report them. */
export interface Stats {
  /** Operations timed. */
  ops: number
  /** Median time per operation, in milliseconds. */
  medianMs: number
  /** 99th percentile time per operation, in milliseconds. */
  p99Ms: number
  /** Units of work per second (see `summarise` for the time it is computed over). */
  throughput: number
  /** Highest resident set size seen while the case ran, in bytes (the whole process). */
  peakRss: number
  /** `peakRss` minus the resident set size when the case started, in bytes. */
  rssGrowth: number
  /** Highest V8 heap in use seen while the case ran, minus the heap in use when it started, in bytes. */
  peakHeapGrowth: number
}

/** What `MemorySampler` saw. */
export type MemoryPeaks = Pick<Stats, 'peakRss' | 'rssGrowth' | 'peakHeapGrowth'>

/**
 * Follows the process's memory while a case runs. It samples in the measuring loop itself
 * (every few operations and at least every 5 ms of wall time), not on a timer, because a timer
 * never fires while a synchronous driver call or a run of resolved promises holds the thread.
 * RSS covers native memory (SQLite page cache, hnswlib, LanceDB's Arrow buffers) that the V8
 * heap does not; it is process-wide, so a case also carries what earlier cases left resident.
 */
export class MemorySampler {
  private readonly heapAtStart: number
  private readonly rssAtStart: number
  private rss = 0
  private heap = 0
  private last = 0

  constructor() {
    const usage = process.memoryUsage()
    this.heapAtStart = usage.heapUsed
    this.rssAtStart = usage.rss
    this.rss = usage.rss
    this.heap = usage.heapUsed
  }

  /** Samples when enough time has passed since the last sample; cheap enough to call after every operation. */
  maybeSample(): void {
    const now = performance.now()
    if (now - this.last >= 5) {
      this.last = now
      this.sample()
    }
  }

  /** Samples now. */
  sample(): void {
    const usage = process.memoryUsage()
    if (usage.rss > this.rss) this.rss = usage.rss
    if (usage.heapUsed > this.heap) this.heap = usage.heapUsed
  }

  /** The peaks seen so far. */
  peaks(): MemoryPeaks {
    this.sample()
    return {
      peakRss: this.rss,
      rssGrowth: this.rss - this.rssAtStart,
      peakHeapGrowth: Math.max(0, this.heap - this.heapAtStart),
    }
  }
}

/**
 * Summarises per-operation latencies (milliseconds) into `Stats`; throughput is units over
 * `elapsedMs`. `measureCases` and `timeEach` pass the time spent inside the operations (the sum
 * of the latencies), so the harness's own work between operations does not understate
 * microsecond operations.
 */
export function summarise(
  latencies: readonly number[],
  elapsedMs: number,
  unitsPerOp: number,
  memory: MemoryPeaks,
): Stats {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    ops: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    throughput: elapsedMs > 0 ? (sorted.length * unitsPerOp * 1000) / elapsedMs : 0,
    ...memory,
  }
}

const sum = (values: readonly number[]) => values.reduce((total, x) => total + x, 0)

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0
}

/** A case for `measureCases`: one operation, how many units of work it does, and who runs it. */
export interface TimedCase extends Case {
  /** Units of work one call does (rows, transactions), for the throughput column. Default is `1`. */
  unitsPerOp?: number
}

/** Options for `measureCases`. */
export interface MeasureOptions {
  /** Rounds per case; rounds alternate between the cases. Default is `5`. */
  rounds?: number
  /** Wall time each case runs per round, in milliseconds. Default is `300`. */
  roundMs?: number
  /** Most operations per case per round, so slow cases and smoke runs stay bounded. Default is no limit. */
  maxOpsPerRound?: number
}

/**
 * Times every operation of each case, alternating rounds between the cases so drift in machine
 * speed hits all of them alike, after one warm-up round each; then one more round per case, alone,
 * for its memory figures. Each operation is timed on its
 * own with `performance.now()` (about 0.1 µs of the figure on every case alike), which is what
 * gives a median and a p99 rather than only a mean.
 */
export async function measureCases(
  cases: readonly TimedCase[],
  options: MeasureOptions = {},
): Promise<Map<string, Stats>> {
  const rounds = options.rounds ?? 5
  const roundMs = options.roundMs ?? 300
  const maxOps = options.maxOpsPerRound ?? Number.POSITIVE_INFINITY
  const state = cases.map(() => ({ latencies: [] as number[] }))
  const round = async (c: TimedCase, record?: (typeof state)[number], sampler?: MemorySampler) => {
    const started = performance.now()
    let ops = 0
    while (ops < maxOps && performance.now() - started < roundMs) {
      const t0 = performance.now()
      const result = c.run()
      if (result instanceof Promise) await result
      const t1 = performance.now()
      ops++
      record?.latencies.push(t1 - t0)
      sampler?.maybeSample()
    }
  }
  for (const c of cases) await round(c)
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) await round(c, state[i])
  }
  // Memory cannot be told apart while the cases alternate, so each case gets one more round on
  // its own, sampled from its own starting point.
  const memory = []
  for (const c of cases) {
    const sampler = new MemorySampler()
    await round(c, undefined, sampler)
    memory.push(sampler.peaks())
  }
  const results = new Map<string, Stats>()
  for (const [i, c] of cases.entries()) {
    const s = state[i] as (typeof state)[number]
    results.set(c.name, summarise(s.latencies, sum(s.latencies), c.unitsPerOp ?? 1, memory[i] as MemoryPeaks))
  }
  return results
}

/**
 * Times each call of `call` (sequential, one at a time) and returns its `Stats`. With `maxMs`,
 * it stops early once that much time has gone and at least `minCount` calls were timed, so a
 * system that turns out slow cannot stretch a run by hours; `Stats.ops` says how many ran.
 * `before` runs ahead of each call, untimed (a write the timed read follows).
 */
export async function timeEach(
  count: number,
  call: (i: number) => Promise<unknown> | unknown,
  unitsPerOp = 1,
  limit: { maxMs?: number; minCount?: number; before?: (i: number) => Promise<unknown> | unknown } = {},
): Promise<Stats> {
  const sampler = new MemorySampler()
  const latencies: number[] = []
  const started = performance.now()
  const maxMs = limit.maxMs ?? Number.POSITIVE_INFINITY
  const minCount = limit.minCount ?? 20
  for (let i = 0; i < count; i++) {
    if (i >= minCount && performance.now() - started > maxMs) break
    await limit.before?.(i)
    const t0 = performance.now()
    const result = call(i)
    if (result instanceof Promise) await result
    latencies.push(performance.now() - t0)
    sampler.maybeSample()
  }
  return summarise(latencies, sum(latencies), unitsPerOp, sampler.peaks())
}

/** Runs `fn` once and returns its result with its wall time in milliseconds and the memory peaks seen around it. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number } & MemoryPeaks> {
  const sampler = new MemorySampler()
  // A single long call cannot be sampled from inside, so a timer samples between its awaits.
  const timer = setInterval(() => sampler.sample(), 20)
  const start = performance.now()
  try {
    const value = await fn()
    return { value, ms: performance.now() - start, ...sampler.peaks() }
  } finally {
    clearInterval(timer)
  }
}
