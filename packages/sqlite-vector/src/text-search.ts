import { type FilterNode, pruneCommonTerms, type StorageAdapter } from '@engram/core'
import { countChanged } from './changed-rows.js'
import { type CollectionRow, collectionTables, currentRow } from './collection-tables.js'
import { ftsMatchQuery } from './fts-match-query.js'
import { fts4Rank } from './fts4-rank.js'
import { bm25Idf, type Fts5Totals, fts5Totals } from './fts5-totals.js'
import { type Hit, marks } from './record-rows.js'
import { type SqlFragment, sqliteWhere } from './sqlite-filter.js'
import { TopK } from './top-k.js'

/** Terms whose statistics a store remembers (per collection state) before it starts over. */
const FREQUENCY_CACHE = 10_000
/** Queries of more words than this rank every match: the classes of matched words would be too many. */
const MOST_CLASS_TERMS = 6
/** Records changed since a word's bound was found, beyond which the bound is found afresh. */
const MOST_CARRIED_CHANGES = 1000
/** Times a bound is carried to a later state before it is found afresh (each carry loosens it a little). */
const MOST_CARRIES = 100
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

/** Statistics of one collection state: document frequencies, and a bound on each word's BM25 contribution. */
interface TermStatistics {
  cid: number
  seq: number
  frequencies: Map<string, number>
  best: Map<string, number>
}

/** A bound on one word's BM25 contribution to any record, with what carrying it to a later state needs. */
interface TermBound {
  bound: number
  /** The collection state (`seq`) it holds at. */
  seq: number
  /** FTS5's totals at that state. */
  totals: Fts5Totals
  /** Records holding the word at that state. */
  hits: number
  /** How many times it was carried since it was last found by ranking. */
  carries: number
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
  /** Word bounds of one collection (by cid and uid), kept across its states. */
  #bounds: { cid: number; uid: string; terms: Map<string, TermBound> } | undefined

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
      statistics = { cid: c.cid, seq: c.seq, frequencies: new Map(), best: new Map() }
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
    const known = this.#current(c).frequencies
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
   * A bound on each term's BM25 contribution to any record at the collection's current state,
   * for `#byClasses`. A word's first bound is its top score as a query of its own, which ranks
   * every record holding it, once; after writes it is carried forward (`#carried`) for the cost of
   * a few small statements, so a query after each write, as an agent makes them, ranks no more
   * than a query at a settled state. `undefined` when FTS5's totals cannot be read.
   */
  async #bestContributions(
    c: CollectionRow,
    terms: readonly string[],
  ): Promise<Map<string, number> | undefined> {
    const best = this.#current(c).best
    const missing = terms.filter((term) => !best.has(term))
    if (missing.length === 0) return best
    const t = collectionTables(c.cid)
    const totals = await fts5Totals(this.#db, t.text)
    if (totals === undefined) return undefined
    // Read at this state: the check below proves no write committed since the query began.
    const hits = await this.#documentFrequencies(c, missing)
    const known = this.#knownBounds(c)
    const found = new Map<string, TermBound>()
    const changes = new Map<number, number>()
    for (const term of missing) {
      const now = hits.get(term) ?? 0
      const old = known.get(term)
      let bound = old === undefined ? undefined : await this.#carried(c, term, old, totals, now, changes)
      // Found at this very state (the per-state cache was full) is not a carry.
      const carries = old === undefined || bound === undefined ? 0 : old.carries + (old.seq === c.seq ? 0 : 1)
      if (bound === undefined) {
        const [top] = await this.#ranked(c, quote(term), 1, undefined)
        bound = top?.score ?? 0
      }
      best.set(term, bound)
      found.set(term, { bound, seq: c.seq, totals, hits: now, carries })
    }
    // Kept for later states only when every read above saw this very state.
    if (await this.#unchanged(c)) for (const [term, bound] of found) known.set(term, bound)
    return best
  }

  /**
   * The bound of `term` carried from the state it was found at to this one (read with `totals`,
   * the word in `hits` records), or `undefined` when more than `MOST_CARRIED_CHANGES` records changed
   * in between. A record that did not change has the same term frequency and length, so its
   * contribution changed only through the IDF, computed exactly from both states' counts, and
   * through the average length, by which a BM25 term weight grows at most in proportion: the old
   * bound times both ratios still bounds every unchanged record. The changed records are scored.
   */
  async #carried(
    c: CollectionRow,
    term: string,
    old: TermBound,
    totals: Fts5Totals,
    hits: number,
    changes: Map<number, number>,
  ): Promise<number | undefined> {
    if (old.seq > c.seq || old.carries >= MOST_CARRIES) return undefined
    if (old.seq === c.seq) return old.bound
    if (totals.rows === 0 || old.totals.rows === 0 || old.totals.tokens === 0) return undefined
    const t = collectionTables(c.cid)
    let changed = changes.get(old.seq)
    if (changed === undefined) {
      changed = await countChanged(this.#db, t.vectors, old.seq, MOST_CARRIED_CHANGES)
      changes.set(old.seq, changed)
    }
    if (changed > MOST_CARRIED_CHANGES) return undefined
    const idfGrowth = bm25Idf(totals.rows, hits) / bm25Idf(old.totals.rows, old.hits)
    const lengthGrowth = Math.max(1, totals.tokens / totals.rows / (old.totals.tokens / old.totals.rows))
    let bound = old.bound * idfGrowth * lengthGrowth
    if (changed > 0) {
      // bm25() cannot feed an aggregate, so the best changed record comes first instead.
      const row = await this.#db.get<{ rank: number }>(
        `SELECT bm25(${t.text}) AS rank FROM ${t.text}
          WHERE ${t.text} MATCH ? AND ${t.text}.rowid IN (SELECT label FROM ${t.vectors} WHERE seq > ?)
          ORDER BY rank LIMIT 1`,
        [quote(term), old.seq],
      )
      if (row !== undefined) bound = Math.max(bound, -row.rank)
    }
    return bound
  }

  /** The word bounds kept for this collection, started afresh for another one (or a new namesake). */
  #knownBounds(c: CollectionRow): Map<string, TermBound> {
    let kept = this.#bounds
    if (kept?.cid !== c.cid || kept.uid !== c.uid || kept.terms.size > FREQUENCY_CACHE) {
      kept = { cid: c.cid, uid: c.uid, terms: new Map() }
      this.#bounds = kept
    }
    return kept.terms
  }

  /** Whether the collection is still at the state `c` was read at: no write batch committed since. */
  async #unchanged(c: CollectionRow): Promise<boolean> {
    return (await currentRow(this.#db, c))?.seq === c.seq
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
