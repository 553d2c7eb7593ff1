/** A one-line progress bar on a terminal, or a line per quarter when output is not a terminal. */
export class ProgressBar {
  readonly #label: string
  readonly #tty: boolean
  #lastQuarter = -1
  readonly #started = performance.now()

  /** Starts a bar titled `label`. */
  constructor(label: string) {
    this.#label = label
    this.#tty = process.stdout.isTTY === true
  }

  /** Shows `done` of `total`. */
  update(done: number, total: number): void {
    const fraction = total === 0 ? 1 : done / total
    if (this.#tty) {
      const width = 28
      const filled = Math.round(fraction * width)
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
      process.stdout.write(`\r  ${this.#label} ${bar} ${done}/${total}`)
      if (done >= total) process.stdout.write(`  (${this.elapsed()})\n`)
      return
    }
    const quarter = Math.floor(fraction * 4)
    if (quarter !== this.#lastQuarter) {
      this.#lastQuarter = quarter
      console.log(`  ${this.#label}: ${done}/${total}${done >= total ? ` (${this.elapsed()})` : ''}`)
    }
  }

  /** Time since the bar started, formatted. */
  elapsed(): string {
    return formatMs(performance.now() - this.#started)
  }
}

/** Formats milliseconds for people: `0.42 ms`, `12.3 ms`, `1.52 s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}
