/** One fused result: the id, its RRF score, and its 1-based rank in each input list (or `undefined`). */
export interface FusedResult {
  /** The item's id. */
  id: string
  /** The sum of `weight / (k + rank)` over the lists the id appears in. */
  score: number
  /** The id's rank in each input list, `undefined` where it is absent. */
  ranks: Array<number | undefined>
}

/** Options for `reciprocalRankFusion`. */
export interface RrfOptions {
  /** The RRF constant. Default is `60`. */
  k?: number
  /** A weight per list. Default is `1` for each. */
  weights?: readonly number[]
  /** Keep at most this many results. Default is all. */
  limit?: number
}

/**
 * Fuses ranked lists with Reciprocal Rank Fusion: best first, ties broken by the best
 * single rank and then by id, so the order is deterministic.
 */
export function reciprocalRankFusion(
  lists: ReadonlyArray<ReadonlyArray<{ id: string }>>,
  options: RrfOptions = {},
): FusedResult[] {
  const k = options.k ?? 60
  const fused = new Map<string, FusedResult>()
  lists.forEach((list, listIndex) => {
    const weight = options.weights?.[listIndex] ?? 1
    list.forEach((item, position) => {
      let entry = fused.get(item.id)
      if (!entry) {
        entry = { id: item.id, score: 0, ranks: new Array(lists.length).fill(undefined) }
        fused.set(item.id, entry)
      }
      if (entry.ranks[listIndex] !== undefined) return // a duplicate within one list counts once
      entry.ranks[listIndex] = position + 1
      entry.score += weight / (k + position + 1)
    })
  })
  const best = (r: FusedResult): number => Math.min(...r.ranks.map((x) => x ?? Number.POSITIVE_INFINITY))
  const out = [...fused.values()].sort(
    (a, b) => b.score - a.score || best(a) - best(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )
  return options.limit === undefined ? out : out.slice(0, options.limit)
}
