/**
 * Keeps the `k` best labels seen so far in a binary min-heap, so an exact scan holds `k` entries
 * however many rows it reads. Best means the higher score, then the lower label: what is kept
 * does not depend on the order the candidates come in, so a scan and a narrowed-down re-score
 * of the same records agree exactly, ties included.
 */
export class TopK {
  readonly #k: number
  readonly #scores: number[] = []
  readonly #labels: number[] = []

  /** Keeps at most `k` entries. */
  constructor(k: number) {
    this.#k = k
  }

  /** How many entries it keeps at most. */
  get k(): number {
    return this.#k
  }

  /** The lowest score kept, or `-Infinity` while fewer than `k` are kept. */
  get floor(): number {
    return this.#scores.length < this.#k ? Number.NEGATIVE_INFINITY : (this.#scores[0] as number)
  }

  /** Offers one candidate; it is kept if it beats the worst entry kept. */
  push(label: number, score: number): void {
    const scores = this.#scores
    const labels = this.#labels
    if (scores.length < this.#k) {
      scores.push(score)
      labels.push(label)
      this.#up(scores.length - 1)
    } else if (this.#beats(score, label, 0)) {
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

  /** Whether (score, label) is better than entry `i`. */
  #beats(score: number, label: number, i: number): boolean {
    const other = this.#scores[i] as number
    return score > other || (score === other && label < (this.#labels[i] as number))
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#beats(this.#scores[parent] as number, this.#labels[parent] as number, i)) return
      this.#swap(i, parent)
      i = parent
    }
  }

  #down(i: number): void {
    const n = this.#scores.length
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let worst = i
      if (left < n && this.#beats(this.#scores[worst] as number, this.#labels[worst] as number, left))
        worst = left
      if (right < n && this.#beats(this.#scores[worst] as number, this.#labels[worst] as number, right))
        worst = right
      if (worst === i) return
      this.#swap(i, worst)
      i = worst
    }
  }

  #swap(a: number, b: number): void {
    const s = this.#scores
    const l = this.#labels
    ;[s[a], s[b]] = [s[b] as number, s[a] as number]
    ;[l[a], l[b]] = [l[b] as number, l[a] as number]
  }
}
