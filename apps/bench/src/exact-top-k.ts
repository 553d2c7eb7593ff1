/**
 * Exact cosine top-k by brute force, written the way one would by hand for speed: the data is
 * normalised once into one flat Float32Array, so a query is one dot product per record and a
 * small sorted insert. It serves as the ground truth recall is measured against, and as the raw
 * floor for exact search. Ids are `v<index>`.
 */
export function exactTopK(data: readonly Float32Array[]): (query: Float32Array, k: number) => string[] {
  const dimension = data[0]?.length ?? 0
  const flat = new Float32Array(data.length * dimension)
  data.forEach((v, i) => {
    let sum = 0
    for (const x of v) sum += x * x
    const norm = Math.sqrt(sum) || 1
    for (let d = 0; d < dimension; d++) flat[i * dimension + d] = (v[d] as number) / norm
  })
  return (query, k) => {
    // The query's norm scales every score alike, so it does not change the ranking.
    const ids = new Int32Array(k).fill(-1)
    const scores = new Float64Array(k).fill(Number.NEGATIVE_INFINITY)
    for (let i = 0; i < data.length; i++) {
      let dot = 0
      const base = i * dimension
      for (let d = 0; d < dimension; d++) dot += (flat[base + d] as number) * (query[d] as number)
      if (dot <= (scores[k - 1] as number)) continue
      // Insert into the sorted top k, dropping the last.
      let at = k - 1
      while (at > 0 && dot > (scores[at - 1] as number)) {
        scores[at] = scores[at - 1] as number
        ids[at] = ids[at - 1] as number
        at--
      }
      scores[at] = dot
      ids[at] = i
    }
    return Array.from(ids)
      .filter((i) => i >= 0)
      .map((i) => `v${i}`)
  }
}

/** The fraction of the true top-k ids found, over all queries (recall@k). */
export function recallAtK(results: readonly string[][], truth: readonly string[][]): number {
  let found = 0
  let wanted = 0
  results.forEach((ids, q) => {
    const expected = new Set(truth[q])
    wanted += expected.size
    found += ids.filter((id) => expected.has(id)).length
  })
  return wanted === 0 ? 0 : found / wanted
}
