/** Where a progress bar writes: a stream with `write`, and whether it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown
  readonly isTTY?: boolean
}

/** Options for `ProgressBar`. */
export interface ProgressBarOptions {
  /** Where to draw. Default is `process.stdout`. */
  stream?: ProgressStream
  /** Milliseconds from a fixed point, for the rate and the time left. Default is `performance.now`. */
  clock?: () => number
}

/**
 * A one-line progress bar with the rate and the time left on a terminal, or a plain line per
 * quarter (with the rate) when output is not a terminal, so logs stay short.
 */
export class ProgressBar {
  readonly #label: string
  readonly #stream: ProgressStream
  readonly #tty: boolean
  readonly #clock: () => number
  readonly #started: number
  #lastQuarter = -1
  #lastDraw = Number.NEGATIVE_INFINITY
  #finished = false

  /** Starts a bar titled `label`. */
  constructor(label: string, options: ProgressBarOptions = {}) {
    this.#label = label
    this.#stream = options.stream ?? process.stdout
    this.#tty = this.#stream.isTTY === true
    this.#clock = options.clock ?? (() => performance.now())
    this.#started = this.#clock()
  }

  /** Shows `done` of `total`; the line ends (with the elapsed time) once `done` reaches `total`. */
  update(done: number, total: number): void {
    if (this.#finished) return
    const fraction = total <= 0 ? 1 : Math.min(1, done / total)
    const complete = done >= total
    const seconds = (this.#clock() - this.#started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    if (this.#tty) {
      const now = this.#clock()
      // Redrawing more than about 20 times a second only costs time.
      if (!complete && now - this.#lastDraw < 50) return
      this.#lastDraw = now
      const width = 28
      const filled = Math.round(fraction * width)
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
      const left = rate > 0 && !complete ? `  ETA ${formatSeconds((total - done) / rate)}` : ''
      this.#stream.write(
        `\r  ${this.#label} ${bar} ${count(done)}/${count(total)}  ${count(Math.round(rate))}/s${left}\u001b[K`,
      )
      if (complete) this.#end()
      return
    }
    const quarter = Math.floor(fraction * 4)
    if (quarter !== this.#lastQuarter || complete) {
      this.#lastQuarter = quarter
      this.#stream.write(
        `  ${this.#label}: ${count(done)}/${count(total)}${complete ? ` (${this.elapsed()}, ${count(Math.round(rate))}/s)` : ''}\n`,
      )
      if (complete) this.#finished = true
    }
  }

  /** Time since the bar started, formatted. */
  elapsed(): string {
    return formatMs(this.#clock() - this.#started)
  }

  #end(): void {
    this.#stream.write(`  (${this.elapsed()})\n`)
    this.#finished = true
  }
}

/** Formats milliseconds for people: `0.42 ms`, `12.3 ms`, `1.52 s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

function count(n: number): string {
  return n.toLocaleString('en-US')
}
