/**
 * Keeps the `k` best-scoring labels seen so far in a binary min-heap, so an exact scan holds
 * `k` entries however many rows it reads.
 */
export class TopK {
  readonly #k: number
  readonly #scores: number[] = []
  readonly #labels: number[] = []

  /** Keeps at most `k` entries. */
  constructor(k: number) {
    this.#k = k
  }

  /** The lowest score kept, or `-Infinity` while fewer than `k` are kept. */
  get floor(): number {
    return this.#scores.length < this.#k ? Number.NEGATIVE_INFINITY : (this.#scores[0] as number)
  }

  /** Offers one candidate; it is kept if it beats the current floor. */
  push(label: number, score: number): void {
    const scores = this.#scores
    const labels = this.#labels
    if (scores.length < this.#k) {
      scores.push(score)
      labels.push(label)
      this.#up(scores.length - 1)
    } else if (score > (scores[0] as number)) {
      scores[0] = score
      labels[0] = label
      this.#down(0)
    }
  }

  /** The kept entries, best first (ties by label, so the order is deterministic). */
  sorted(): Array<{ label: number; score: number }> {
    return this.#labels
      .map((label, i) => ({ label, score: this.#scores[i] as number }))
      .sort((a, b) => b.score - a.score || a.label - b.label)
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((this.#scores[parent] as number) <= (this.#scores[i] as number)) return
      this.#swap(i, parent)
      i = parent
    }
  }

  #down(i: number): void {
    const n = this.#scores.length
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < n && (this.#scores[left] as number) < (this.#scores[smallest] as number)) smallest = left
      if (right < n && (this.#scores[right] as number) < (this.#scores[smallest] as number)) smallest = right
      if (smallest === i) return
      this.#swap(i, smallest)
      i = smallest
    }
  }

  #swap(a: number, b: number): void {
    const s = this.#scores
    const l = this.#labels
    ;[s[a], s[b]] = [s[b] as number, s[a] as number]
    ;[l[a], l[b]] = [l[b] as number, l[a] as number]
  }
}
