import { type LabelledQuery, QUERY_KINDS, type QueryKind } from './labelled-set.js'

/** recall@k and MRR of one group of queries. */
export interface RetrievalScore {
  /** Queries scored. */
  queries: number
  /** Mean over the queries of |relevant ∩ top k| / min(|relevant|, k). */
  recall: number
  /** Mean over the queries of 1 / rank of the first relevant result in the top k (0 when none is). */
  mrr: number
}

/**
 * recall@k of one result list, capped: the relevant records found in the first `k`, out of at
 * most `k`, so a query with more relevant records than fit in `k` can still score 1.
 */
export function recallAt(ranked: readonly string[], relevant: readonly string[], k: number): number {
  if (relevant.length === 0) return 0
  const wanted = new Set(relevant)
  const found = ranked.slice(0, k).filter((id) => wanted.has(id)).length
  return found / Math.min(wanted.size, k)
}

/** 1 / the 1-based rank of the first relevant id within the first `k`, or 0. */
export function reciprocalRank(ranked: readonly string[], relevant: readonly string[], k: number): number {
  const wanted = new Set(relevant)
  const at = ranked.slice(0, k).findIndex((id) => wanted.has(id))
  return at < 0 ? 0 : 1 / (at + 1)
}

/** Scores per query kind and over all queries; `results[i]` is the ranked ids for `queries[i]`. */
export function scoreByKind(
  queries: readonly LabelledQuery[],
  results: readonly (readonly string[])[],
  k: number,
): Record<QueryKind | 'all', RetrievalScore> {
  const score = (pick: (q: LabelledQuery) => boolean): RetrievalScore => {
    let n = 0
    let recall = 0
    let mrr = 0
    queries.forEach((q, i) => {
      if (!pick(q)) return
      const ranked = results[i] ?? []
      n++
      recall += recallAt(ranked, q.relevant, k)
      mrr += reciprocalRank(ranked, q.relevant, k)
    })
    return { queries: n, recall: n ? recall / n : 0, mrr: n ? mrr / n : 0 }
  }
  const scores = { all: score(() => true) } as Record<QueryKind | 'all', RetrievalScore>
  for (const kind of QUERY_KINDS) scores[kind] = score((q) => q.kind === kind)
  return scores
}
