import { type FilterNode, pruneCommonTerms, type StorageAdapter } from '@engram/core'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import { ftsMatchQuery } from './fts-match-query.js'
import { fts4Rank } from './fts4-rank.js'
import { type Hit, marks } from './record-rows.js'
import { type SqlFragment, sqliteWhere } from './sqlite-filter.js'
import { TopK } from './top-k.js'

/** Terms whose statistics a store remembers (per collection state) before it starts over. */
const FREQUENCY_CACHE = 10_000
/** Queries of more words than this rank every match: the classes of matched words would be too many. */
const MOST_CLASS_TERMS = 6
/**
 * Scores closer than this count as equal, and ties go to the lower label: BM25 sums the same
 * contributions in another order when a query is split, which moves the last bit or two.
 */
const SCORE_GRAIN = 1e-9

/** What text search needs from the store. */
export interface TextSearchConfig {
  /** Records a collection needs before very common query words are left out. */
  termPruningThreshold: number
  /** The share of records a word must be in to count as very common. */
  commonTermFraction: number
}

/** Statistics of one collection state: document frequencies, and each word's best BM25 contribution. */
interface TermStatistics {
  cid: number
  seq: number
  frequencies: Map<string, number>
  best: Map<string, number>
  /** Queries answered at this state so far. */
  queries: number
}

/**
 * Full-text search on one database: BM25 from FTS5's `bm25()`, or computed from FTS4's
 * `matchinfo`, over the collection's FTS table, with very common words pruned on large
 * collections using the index's own term statistics. On a large FTS5 collection the best `k`
 * of an OR of words are found without ranking every match (see `#byClasses`): same records,
 * same order, scores equal to the last digits.
 */
export class TextSearch {
  readonly #db: StorageAdapter
  readonly #pruneFrom: number
  readonly #commonFraction: number
  /** Collections whose term-statistics table (`fts5vocab`/`fts4aux`, in the temp schema) this store created. */
  readonly #termTables = new Set<number>()
  #statistics: TermStatistics | undefined

  constructor(db: StorageAdapter, { termPruningThreshold, commonTermFraction }: TextSearchConfig) {
    this.#db = db
    this.#pruneFrom = termPruningThreshold
    this.#commonFraction = commonTermFraction
  }

  /** The `k` best text matches among the records `filter` selects, best first. */
  async search(c: CollectionRow, text: string, k: number, filter: FilterNode | undefined): Promise<Hit[]> {
    const terms = await this.#terms(c, text)
    if (terms.length === 0) return []
    const where = filter && sqliteWhere(filter, 'v.metadata')
    if (c.fts !== 'fts5') return this.#fts4(c, orMatch(terms), k, where)
    if (terms.length >= 2 && terms.length <= MOST_CLASS_TERMS) {
      const best = await this.#bestContributions(c, terms)
      if (best !== undefined) return this.#byClasses(c, terms, best, k, where)
    }
    return this.#ranked(c, orMatch(terms), k, where)
  }

  /** Drops the collection's term-statistics table; call it before its FTS table is dropped. */
  async forget(tx: StorageAdapter, cid: number): Promise<void> {
    if (this.#termTables.delete(cid)) {
      await tx.exec(`DROP TABLE IF EXISTS temp.${collectionTables(cid).text}_terms`)
    }
  }

  /** The `k` best matches of one MATCH expression by `bm25()`, best first. */
  async #ranked(c: CollectionRow, match: string, k: number, where: SqlFragment | undefined): Promise<Hit[]> {
    const t = collectionTables(c.cid)
    const rows = await this.#db.all<{ label: number; rank: number }>(
      `SELECT ${t.text}.rowid AS label, bm25(${t.text}) AS rank ${this.#from(c, where)}
        ORDER BY round(rank / ${SCORE_GRAIN}), label LIMIT ?`,
      [match, ...(where?.params ?? []), k],
    )
    return rows.map((row) => ({ label: row.label, score: -row.rank }))
  }

  /**
   * The `k` best matches of an OR of `terms` without ranking every record that holds one of
   * them. A record's score is the sum of the contributions of the words it holds, and no
   * contribution of a word exceeds its `best` (its top score as a query of its own). The
   * records are split by which of the words they hold (`a AND b NOT (c OR d)`), and those
   * classes are ranked in order of the most they could score; once `k` records are found that
   * score more than the next class could, the rest cannot change the answer. Typically the
   * class of records holding every word fills the answer, and the large classes of records
   * holding only the common words are never ranked.
   */
  async #byClasses(
    c: CollectionRow,
    terms: readonly string[],
    best: ReadonlyMap<string, number>,
    k: number,
    where: SqlFragment | undefined,
  ): Promise<Hit[]> {
    const classes: Array<{ mask: number; bound: number }> = []
    for (let mask = 1; mask < 1 << terms.length; mask++) {
      let bound = 0
      terms.forEach((term, i) => {
        if (mask & (1 << i)) bound += best.get(term) ?? Number.POSITIVE_INFINITY
      })
      classes.push({ mask, bound })
    }
    classes.sort((a, b) => b.bound - a.bound || b.mask - a.mask)
    let found: Hit[] = []
    for (const { mask, bound } of classes) {
      const worst = found[k - 1]
      // Strictly below the k-th score even with rounding headroom, so not even a tie can enter.
      if (worst !== undefined && grain(worst.score) > grain(bound * (1 + 1e-9) + SCORE_GRAIN)) break
      const held = terms.filter((_, i) => mask & (1 << i))
      const missing = terms.filter((_, i) => !(mask & (1 << i)))
      const match =
        held.map(quote).join(' AND ') +
        (missing.length > 0 ? ` NOT (${missing.map(quote).join(' OR ')})` : '')
      found = found
        .concat(await this.#ranked(c, match, k, where))
        .sort(byScore)
        .slice(0, k)
    }
    return found
  }

  /** FTS4 has no bm25(): rank every match from matchinfo, keeping only the best k. */
  async #fts4(c: CollectionRow, match: string, k: number, where: SqlFragment | undefined): Promise<Hit[]> {
    const t = collectionTables(c.cid)
    const top = new TopK(k)
    for await (const row of this.#db.iterate<{ label: number; info: Uint8Array }>(
      `SELECT ${t.text}.rowid AS label, matchinfo(${t.text}, 'pcnalx') AS info ${this.#from(c, where)}`,
      [match, ...(where?.params ?? [])],
    )) {
      top.push(row.label, fts4Rank(row.info))
    }
    return top.sorted()
  }

  /**
   * Triggers keep the FTS rows in step with the records, so only a filter needs the records
   * joined; the join costs a row lookup per match, most of an unfiltered query's time.
   */
  #from(c: CollectionRow, where: SqlFragment | undefined): string {
    const t = collectionTables(c.cid)
    const join = where ? ` JOIN ${t.vectors} AS v ON v.label = ${t.text}.rowid` : ''
    return `FROM ${t.text}${join} WHERE ${t.text} MATCH ?${where ? ` AND ${where.sql}` : ''}`
  }

  /**
   * The words of `text` to search: every word, or on a collection of at least
   * `termPruningThreshold` records every word but the very common ones, and none that no record
   * holds. Text mode and hybrid's text list both come through here, so hybrid stays RRF over
   * the text mode's list.
   */
  async #terms(c: CollectionRow, text: string): Promise<string[]> {
    const match = ftsMatchQuery(text)
    if (match === undefined) return []
    // ftsMatchQuery quotes whole words (letters, digits, marks), so no term holds a quote or a space.
    const terms = match.split(' OR ').map((quoted) => quoted.slice(1, -1))
    if (c.count < this.#pruneFrom) return terms
    const frequencies = await this.#documentFrequencies(c, terms)
    const kept = pruneCommonTerms(terms, frequencies, c.count, this.#commonFraction)
    // A word no record holds matches nothing and adds nothing; the rarest word stays regardless.
    const held = kept.filter((term) => (frequencies.get(term) ?? 0) > 0)
    return held.length > 0 ? held : kept.slice(0, 1)
  }

  /** The statistics of the collection's current state, started afresh when it changed. */
  #current(c: CollectionRow): TermStatistics {
    let statistics = this.#statistics
    if (
      statistics?.cid !== c.cid ||
      statistics.seq !== c.seq ||
      statistics.frequencies.size + statistics.best.size > FREQUENCY_CACHE
    ) {
      statistics = { cid: c.cid, seq: c.seq, frequencies: new Map(), best: new Map(), queries: 0 }
      this.#statistics = statistics
    }
    return statistics
  }

  /**
   * How many records hold each term, read from the FTS index's own statistics (an `fts5vocab` or
   * `fts4aux` table over it), one indexed lookup per term, remembered until the collection changes.
   * The statistics table lives in the connection's temp schema, so the database file is never
   * changed and read-only files work.
   */
  async #documentFrequencies(c: CollectionRow, terms: readonly string[]): Promise<Map<string, number>> {
    const statistics = this.#current(c)
    statistics.queries++
    const known = statistics.frequencies
    const missing = terms.filter((term) => !known.has(term))
    if (missing.length === 0) return known
    const t = collectionTables(c.cid)
    const stats = `temp.${t.text}_terms`
    if (!this.#termTables.has(c.cid)) {
      const using = c.fts === 'fts5' ? `fts5vocab(main, ${t.text}, row)` : `fts4aux(main, ${t.text})`
      await this.#db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${stats} USING ${using}`)
      this.#termTables.add(c.cid)
    }
    const sql =
      c.fts === 'fts5'
        ? `SELECT term, doc AS n FROM ${stats} WHERE term IN (${marks(missing.length)})`
        : `SELECT term, documents AS n FROM ${stats} WHERE col = '*' AND term IN (${marks(missing.length)})`
    const rows = await this.#db.all<{ term: string; n: number }>(sql, missing)
    for (const term of missing) known.set(term, 0)
    for (const row of rows) known.set(row.term, Number(row.n))
    return known
  }

  /**
   * Each term's best BM25 contribution at the collection's current state (its top score as a
   * query of its own), for `#byClasses`. Finding it ranks the records holding the term, so it is
   * worth doing only when the state is read more than once: the first query after a write ranks
   * every match as usual (`undefined`), later ones reuse what was found.
   */
  async #bestContributions(
    c: CollectionRow,
    terms: readonly string[],
  ): Promise<Map<string, number> | undefined> {
    const statistics = this.#current(c)
    const best = statistics.best
    const missing = terms.filter((term) => !best.has(term))
    if (missing.length === 0) return best
    if (statistics.queries < 2) return undefined
    for (const term of missing) {
      const [top] = await this.#ranked(c, quote(term), 1, undefined)
      best.set(term, top?.score ?? 0)
    }
    return best
  }
}

function quote(term: string): string {
  return `"${term}"`
}

function orMatch(terms: readonly string[]): string {
  return terms.map(quote).join(' OR ')
}

/** A score on the grain ties are judged at. */
function grain(score: number): number {
  return Math.round(score / SCORE_GRAIN)
}

/** Best first on the grain, then the lower label: the order `#ranked` returns. */
function byScore(a: Hit, b: Hit): number {
  return grain(b.score) - grain(a.score) || a.label - b.label
}
