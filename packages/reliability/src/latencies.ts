/** Latencies of one kind of operation, in milliseconds, and their summary. */
export class Latencies {
  readonly #samples: number[] = []

  /** Times `fn` and records how long it took. */
  async time<T>(fn: () => Promise<T>): Promise<T> {
    const start = performance.now()
    try {
      return await fn()
    } finally {
      this.#samples.push(performance.now() - start)
    }
  }

  /** How many operations were timed. */
  get count(): number {
    return this.#samples.length
  }

  /** The `p`-th percentile (0 to 100) by the nearest-rank method; `NaN` with no samples. */
  percentile(p: number): number {
    if (this.#samples.length === 0) return Number.NaN
    const sorted = [...this.#samples].sort((a, b) => a - b)
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
    return sorted[rank - 1] as number
  }
}
