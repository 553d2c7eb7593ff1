/** One benchmarked operation: a name and an async or sync function doing one unit of work. */
export interface Case {
  /** Shown in the results table. */
  name: string
  /** Does one unit of work. */
  run: () => unknown
}

/** The result of measuring one case. */
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

/** Prints measurements as a Markdown table, with each case's overhead relative to the first. */
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
