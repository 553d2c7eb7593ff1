/** Terms beyond this many are dropped, so a pasted document cannot build an enormous MATCH expression. */
const MAX_TERMS = 64

/**
 * Turns user text into a safe FTS5/FTS4 MATCH expression: every word becomes a quoted term
 * and the terms are ORed, so FTS syntax in the text (`NEAR`, `*`, `-`, quotes, column
 * filters) is searched for literally instead of being run. Returns `undefined` when the text
 * has no words, which matches nothing.
 *
 * @example
 * ftsMatchQuery('apple "banana') // '"apple" OR "banana"'
 */
export function ftsMatchQuery(text: string): string | undefined {
  // The same word characters as SQLite's unicode61 tokenizer: letters, digits and combining marks.
  const words = text.match(/[\p{L}\p{N}\p{M}]+/gu) ?? []
  const terms = [...new Set(words.map((word) => word.toLowerCase()))].slice(0, MAX_TERMS)
  if (terms.length === 0) return undefined
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ')
}
