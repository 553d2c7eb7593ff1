import { pruneCommonTerms, type SqlValue } from '@engram/core'
import type { PgVectorSettings } from './pg-vector-config.js'
import { hasAtLeast } from './pg-vector-records.js'
import type { PgCollection, PgVectorRegistry } from './pg-vector-registry.js'

/** The text query: the words of the bound `:text`, any of which may match (like the reference store's BM25). */
const TSQUERY = `(SELECT replace(plainto_tsquery('simple'::regconfig, :text)::text, ' & ', ' | ')::tsquery AS query)`

/**
 * A tsquery of exactly the given lexemes, ORed: built through a tsvector, whose lexemes are never
 * parsed again (no word is split or normalised twice), then printed as `'a' 'b'` and read back
 * with `|` between them. Lexemes from the parser hold no spaces, so the separator is unambiguous.
 */
const LEXEMES_TO_TSQUERY = (array: string) =>
  `replace(strip(array_to_tsvector(${array}))::text, ''' ''', ''' | ''')::tsquery`

/** The pruned text query: the kept words (bound as `:terms`), any of which may match. */
const PRUNED_TSQUERY = `(SELECT ${LEXEMES_TO_TSQUERY(':terms::text[]')} AS query)`

/**
 * The tsquery that text mode and hybrid's text list share, with term pruning: on a collection of
 * at least `termPruningThreshold` records (per tenant), query words found in more than
 * `commonTermFraction` of the table's rows are left out, the rarest word always kept.
 */
export class PgTextQuery {
  readonly #registry: PgVectorRegistry
  readonly #settings: PgVectorSettings
  /** Tables seen with at least `termPruningThreshold` records for this tenant. */
  readonly #prunable = new Set<string>()

  constructor(registry: PgVectorRegistry, settings: PgVectorSettings) {
    this.#registry = registry
    this.#settings = settings
  }

  /**
   * A one-row subquery with the column `query`, for the text bound in `params.text`. When words
   * are pruned, `params.text` is replaced by `params.terms`, the words kept. The shares come from
   * the planner statistics of the tsvector column (none before the table's first ANALYZE).
   */
  async build(collection: PgCollection, params: Record<string, SqlValue>): Promise<string> {
    if (!(await this.#isPrunable(collection))) return TSQUERY
    // A count per word would visit every matching row; the planner statistics ANALYZE keeps for the
    // tsvector column (its most common lexemes and the share of rows holding each) cost one lookup.
    const rows = await collection.db.all<{ term: string; share: number }>(
      `SELECT w.term, coalesce(s.share, 0) AS share
       FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, :text))) AS w(term)
       LEFT JOIN (
         SELECT e.term, e.share FROM pg_stats p,
           unnest(p.most_common_elems::text::text[], p.most_common_elem_freqs) AS e(term, share)
         WHERE p.schemaname = :schema AND p.tablename = :relation AND p.attname = 'tsv'
       ) s ON s.term = w.term`,
      { text: params.text as string, schema: this.#registry.schema, relation: collection.relation },
    )
    if (rows.length < 2) return TSQUERY
    const terms = rows.map((row) => row.term)
    const shares = new Map(rows.map((row) => [row.term, Number(row.share)]))
    const kept = pruneCommonTerms(terms, shares, 1, this.#settings.commonTermFraction)
    if (kept.length === terms.length) return TSQUERY
    params.terms = kept
    delete params.text
    return PRUNED_TSQUERY
  }

  async #isPrunable(collection: PgCollection): Promise<boolean> {
    if (this.#prunable.has(collection.table)) return true
    const { tenant, termPruningThreshold } = this.#settings
    if (!(await hasAtLeast(collection, tenant, termPruningThreshold))) return false
    this.#prunable.add(collection.table)
    return true
  }
}
