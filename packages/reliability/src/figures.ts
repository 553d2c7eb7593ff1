/** One measured figure: a count, a duration in milliseconds, or a short label. */
export type Figure = number | string

/**
 * Prints what a test measured as one `[reliability]` line (`file › case: key=value …`), so
 * docs/RELIABILITY.md can quote the figures of a run and CI logs can be searched for them.
 */
export function printFigures(file: string, what: string, figures: Readonly<Record<string, Figure>>): void {
  const parts = Object.entries(figures).map(([key, value]) => `${key}=${format(value)}`)
  console.log(`[reliability] ${file} › ${what}: ${parts.join(' ')}`)
}

function format(value: Figure): string {
  if (typeof value === 'string') return value
  return Number.isInteger(value) ? String(value) : value.toFixed(2)
}

/** The run's seed: `ENGRAM_RELIABILITY_SEED` to replay a run, a fresh one otherwise (printed by the caller). */
export function runSeed(): number {
  const given = process.env.ENGRAM_RELIABILITY_SEED
  if (given !== undefined && /^\d+$/.test(given)) return Number(given)
  return Math.floor(Math.random() * 2 ** 31)
}

/** How many rounds, runs or operations a test does: `ENGRAM_RELIABILITY_SCALE` multiplies the default (1). */
export function scaled(count: number): number {
  const scale = Number(process.env.ENGRAM_RELIABILITY_SCALE ?? '1')
  return Math.max(1, Math.round(count * (Number.isFinite(scale) && scale > 0 ? scale : 1)))
}
