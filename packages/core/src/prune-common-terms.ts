/**
 * Drops the query terms found in more than `fraction` of `total` records, always keeping the
 * rarest term (the first of equally rare ones), so a query never loses all its words. Such terms
 * carry almost no BM25 weight (FTS5 clamps the IDF of a term in over half the records to ~0) but
 * make the engine rank nearly every record. Terms keep their query order.
 *
 * @example
 * pruneCommonTerms(['the', 'kiwi'], new Map([['the', 900], ['kiwi', 3]]), 1000, 0.3) // ['kiwi']
 */
export function pruneCommonTerms(
  terms: readonly string[],
  frequencies: ReadonlyMap<string, number>,
  total: number,
  fraction: number,
): string[] {
  const frequency = (term: string) => frequencies.get(term) ?? 0
  const kept = terms.filter((term) => frequency(term) <= fraction * total)
  if (kept.length > 0 || terms.length === 0) return kept
  let rarest = terms[0] as string
  for (const term of terms) if (frequency(term) < frequency(rarest)) rarest = term
  return [rarest]
}
