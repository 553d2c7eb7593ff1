import { pruneCommonTerms, type StorageAdapter } from '@engram/core'
import type { PgVectorSettings } from './pg-vector-config.js'
import {
  causeCode,
  INSUFFICIENT_PRIVILEGE,
  type PgCollection,
  type PgVectorRegistry,
} from './pg-vector-registry.js'
import { repeatedWordsIndexDdl, repeatedWordsIndexName } from './pg-vector-text-list.js'

/** A text query after its one look-up: the words to search for, and how the list may be ranked. */
export interface PreparedText {
  /** The query's distinct lexemes, common ones pruned; empty when the text has no words. */
  readonly lexemes: readonly string[]
  /** Whether the table has its repeated-words index, so the list can be ranked by tiers. */
  readonly tiered: boolean
  /** The tenant's records counted up to the larger threshold, when they were counted. */
  readonly size: number | undefined
}

/**
 * The words of a text or hybrid query, found in one statement: the query's lexemes as PostgreSQL
 * parses them, with each one's share of the table's rows from the planner statistics (for term
 * pruning), and, until known, the tenant's size (for pruning and for the exact-or-HNSW choice) and
 * whether the table has its repeated-words index. On a collection of at least
 * `termPruningThreshold` records (per tenant), query words found in more than
 * `commonTermFraction` of the table's rows are left out, the rarest word always kept.
 */
export class PgTextQuery {
  readonly #registry: PgVectorRegistry
  readonly #settings: PgVectorSettings
  /** Tables seen with at least `termPruningThreshold` records for this tenant. */
  readonly #prunable = new Set<string>()
  /** Tables known to have the repeated-words index. */
  readonly #indexed = new Set<string>()
  /** Tables this store's role cannot add the index to (it does not own them). */
  readonly #unbuildable = new Set<string>()

  constructor(registry: PgVectorRegistry, settings: PgVectorSettings) {
    this.#registry = registry
    this.#settings = settings
  }

  /**
   * Looks the words of `text` up. `sizeLimit`, when given, is how far to count the tenant's
   * records for a caller that still needs to know (the hybrid's exact-or-HNSW choice).
   */
  async prepare(collection: PgCollection, text: string, sizeLimit = 0): Promise<PreparedText> {
    const { table, relation, db } = collection
    const prunable = this.#prunable.has(table)
    const limit = Math.max(prunable ? 0 : this.#settings.termPruningThreshold, sizeLimit)
    // Under a row-level security policy `@@` cannot use a GIN index (it is not leakproof), so tiers
    // would each scan the tenant's rows: such stores rank every match in one pass instead.
    const untiered = this.#settings.rowLevelSecurity
    const indexed = untiered || this.#indexed.has(table) || this.#unbuildable.has(table)
    const schema = this.#registry.schema
    const params: Record<string, string | number> = { text, schema, relation }
    if (limit > 0) Object.assign(params, { tenant: this.#settings.tenant, limit })
    if (!indexed) params.index = repeatedWordsIndexName(schema, relation)
    // A count per word would visit every matching row; the planner statistics ANALYZE keeps for the
    // tsvector column (its most common lexemes and the share of rows holding each) cost one lookup.
    const rows = await db.all<{ term: string; share: number; size: number | null; indexed: boolean }>(
      `SELECT w.term, coalesce(s.share, 0) AS share,
         ${limit > 0 ? `(SELECT count(*) FROM (SELECT 1 FROM ${table} WHERE tenant_id = :tenant LIMIT :limit) c)` : 'NULL::bigint'} AS size,
         ${indexed ? 'TRUE' : 'to_regclass(:index) IS NOT NULL'} AS indexed
       FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, :text))) AS w(term)
       LEFT JOIN (
         SELECT e.term, e.share FROM pg_stats p,
           unnest(p.most_common_elems::text::text[], p.most_common_elem_freqs) AS e(term, share)
         WHERE p.schemaname = :schema AND p.tablename = :relation AND p.attname = 'tsv'
       ) s ON s.term = w.term`,
      params,
    )
    const first = rows[0]
    const size = first === undefined || first.size === null ? undefined : Number(first.size)
    if (size !== undefined && size >= this.#settings.termPruningThreshold) this.#prunable.add(table)
    const tiered = !untiered && first !== undefined && (await this.#hasIndex(collection, first.indexed))
    const terms = rows.map((row) => row.term)
    if (!this.#prunable.has(table) || terms.length < 2) return { lexemes: terms, tiered, size }
    const shares = new Map(rows.map((row) => [row.term, Number(row.share)]))
    const lexemes = pruneCommonTerms(terms, shares, 1, this.#settings.commonTermFraction)
    return { lexemes, tiered, size }
  }

  /**
   * Adds the repeated-words index unless it exists, for a collection made before engram created it
   * with the table (needs the table's owner). Runs in its own transaction (a savepoint inside an
   * operation's transaction).
   */
  async build(collection: PgCollection): Promise<void> {
    const { table, relation, db } = collection
    if (this.#indexed.has(table)) return
    const schema = this.#registry.schema
    await db.transaction(async (tx) => {
      // Concurrent builders queue here; the later ones find the index and skip (IF NOT EXISTS).
      await tx.get('SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked', { key: `${table}.repeats` })
      if (await exists(tx, repeatedWordsIndexName(schema, relation))) return
      // Tiers read the tsv index with many small scans; a pending list would be read by each of them.
      await tx.exec(`ALTER INDEX "${schema}"."${relation}_tsv" SET (fastupdate = off);
        SELECT gin_clean_pending_list('"${schema}"."${relation}_tsv"'::regclass);
        ${repeatedWordsIndexDdl(table, relation)}`)
    })
    this.#indexed.add(table)
  }

  async #hasIndex(collection: PgCollection, present: boolean): Promise<boolean> {
    const { table } = collection
    if (this.#indexed.has(table) || present) {
      this.#indexed.add(table)
      return true
    }
    if (this.#unbuildable.has(table)) return false
    try {
      await this.build(collection)
      return true
    } catch (error) {
      if (causeCode(error) !== INSUFFICIENT_PRIVILEGE) throw error
      // Text search stays exact without it, ranking every match, until the owner adds it.
      this.#unbuildable.add(table)
      return false
    }
  }
}

async function exists(db: StorageAdapter, name: string): Promise<boolean> {
  const row = await db.get<{ present: boolean }>('SELECT to_regclass(:name) IS NOT NULL AS present', { name })
  return row?.present === true
}
