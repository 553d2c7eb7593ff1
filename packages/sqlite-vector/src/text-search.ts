import { type FilterNode, pruneCommonTerms, type StorageAdapter } from '@engram/core'
import { countChanged } from './changed-rows.js'
import { type ChangedWords, changedAfter, changedWords } from './changed-words.js'
import { type CollectionRow, collectionTables, currentRow } from './collection-tables.js'
import { ftsMatchQuery } from './fts-match-query.js'
import { fts4Rank } from './fts4-rank.js'
import { bm25Contribution, bm25Idf, type Fts5Totals, fts5Totals } from './fts5-totals.js'
import { type Hit, marks } from './record-rows.js'
import { type SqlFragment, sqliteWhere } from './sqlite-filter.js'
import { TopK } from './top-k.js'

/** Terms whose statistics a store remembers (per collection state) before it starts over. */
const FREQUENCY_CACHE = 10_000
/** Queries of more words than this rank every match: the classes of matched words would be too many. */
const MOST_CLASS_TERMS = 6
/** Records changed since a word's statistics were read, beyond which they are read afresh. */
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

/** One word's statistics at one collection state, with what carrying them to a later state needs. */
interface WordState {
  /** The collection state (`seq`) they hold at. */
  seq: number
  /** FTS5's totals at that state. */
  totals: Fts5Totals
  /** Records holding the word at that state. */
  hits: number
  /** A bound on its BM25 contribution to any record at that state, once one was needed. */
  bound: number | undefined
  /** How many times the bound was carried since it was last found by ranking. */
  carries: number
}

/** What one search read at its collection's state, kept for later states once that state is confirmed. */
interface StateReads {
  /** Every word of the query, for the changed records' word counts. */
  words: readonly string[]
  /** FTS5's totals at this state, once read (`null`: unreadable). */
  totals: Fts5Totals | null | undefined
  /** The changed records since each earlier state asked about (`null`: too many). */
  changes: Map<number, ChangedWords | null>
  /** The changed records this search read, since the oldest state it needed. */
  probe?: ChangedWords
  /** The words whose statistics were read or carried to this state. */
  found: Map<string, WordState>
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
  /** Word statistics of one collection (by cid and uid), kept across its states. */
  #words: { cid: number; uid: string; terms: Map<string, WordState> } | undefined

  constructor(db: StorageAdapter, { termPruningThreshold, commonTermFraction }: TextSearchConfig) {
    this.#db = db
    this.#pruneFrom = termPruningThreshold
    this.#commonFraction = commonTermFraction
  }

  /** The `k` best text matches among the records `filter` selects, best first. */
  async search(c: CollectionRow, text: string, k: number, filter: FilterNode | undefined): Promise<Hit[]> {
    const match = ftsMatchQuery(text)
    if (match === undefined) return []
    // ftsMatchQuery quotes whole words (letters, digits, marks), so no term holds a quote or a space.
    const words = match.split(' OR ').map((quoted) => quoted.slice(1, -1))
    const reads: StateReads = { words, totals: undefined, changes: new Map(), found: new Map() }
    const hits = await this.#search(c, reads, k, filter)
    await this.#keep(c, reads)
    return hits
  }

  async #search(
    c: CollectionRow,
    reads: StateReads,
    k: number,
    filter: FilterNode | undefined,
  ): Promise<Hit[]> {
    const terms = await this.#terms(c, reads)
    if (terms.length === 0) return []
    const where = filter && sqliteWhere(filter, 'v.metadata')
    if (c.fts !== 'fts5') return this.#fts4(c, orMatch(terms), k, where)
    if (terms.length >= 2 && terms.length <= MOST_CLASS_TERMS) {
      const best = await this.#bestContributions(c, terms, reads)
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
  async #terms(c: CollectionRow, reads: StateReads): Promise<string[]> {
    const terms = reads.words
    if (c.count < this.#pruneFrom) return [...terms]
    const frequencies = await this.#documentFrequencies(c, terms, reads)
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
   * How many records hold each term, remembered until the collection changes. On FTS5, a count
   * read at an earlier state is carried to this one when every record changed since was new
   * (`#carriedFrequencies`); otherwise it is read from the FTS index's own statistics (an
   * `fts5vocab` or `fts4aux` table over it, one indexed lookup per term, which counts the term's
   * records). The statistics table lives in the connection's temp schema, so the database file is
   * never changed and read-only files work.
   */
  async #documentFrequencies(
    c: CollectionRow,
    terms: readonly string[],
    reads: StateReads,
  ): Promise<Map<string, number>> {
    const known = this.#current(c).frequencies
    let missing = terms.filter((term) => !known.has(term))
    if (missing.length === 0) return known
    if (c.fts === 'fts5') missing = await this.#carriedFrequencies(c, missing, known, reads)
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
    const totals = c.fts === 'fts5' ? await this.#totals(c, reads) : undefined
    if (totals !== undefined) {
      for (const term of missing) {
        reads.found.set(term, {
          seq: c.seq,
          totals,
          hits: known.get(term) ?? 0,
          bound: undefined,
          carries: 0,
        })
      }
    }
    return known
  }

  /**
   * Sets in `known` the count of each term whose count at an earlier state is remembered, when at
   * most `MOST_CARRIED_CHANGES` records changed since and every one of them was new: then FTS5's
   * row count grew by exactly the changed records that have text, none of them held text at that
   * state, and the count grows by those holding the term. An update or a delete since makes the
   * two differ, and the term is read afresh. Returns the terms it could not carry.
   */
  async #carriedFrequencies(
    c: CollectionRow,
    terms: readonly string[],
    known: Map<string, number>,
    reads: StateReads,
  ): Promise<string[]> {
    const words = this.#knownWords(c)
    const rest: string[] = []
    for (const term of terms) {
      const old = words.get(term)
      if (old?.seq === c.seq) {
        known.set(term, old.hits)
        continue
      }
      const totals = old === undefined || old.seq > c.seq ? undefined : await this.#totals(c, reads)
      const changed =
        old === undefined || totals === undefined ? null : await this.#changedSince(c, old.seq, reads)
      if (
        old === undefined ||
        totals === undefined ||
        changed?.records.size !== totals.rows - old.totals.rows
      ) {
        rest.push(term)
        continue
      }
      const hits = old.hits + (changed.holders.get(term)?.length ?? 0)
      known.set(term, hits)
      // The bound, if any, is carried separately (`#carried`), from the state it was found at.
      reads.found.set(term, { seq: c.seq, totals, hits, bound: undefined, carries: 0 })
    }
    return rest
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
    reads: StateReads,
  ): Promise<Map<string, number> | undefined> {
    const best = this.#current(c).best
    const missing = terms.filter((term) => !best.has(term))
    if (missing.length === 0) return best
    const totals = await this.#totals(c, reads)
    if (totals === undefined) return undefined
    const hits = await this.#documentFrequencies(c, missing, reads)
    const known = this.#knownWords(c)
    for (const term of missing) {
      const now = hits.get(term) ?? 0
      const old = known.get(term)
      let bound = old === undefined ? undefined : await this.#carried(c, old, totals, now, term, reads)
      // Found at this very state (the per-state cache was full) is not a carry.
      const carries = old === undefined || bound === undefined ? 0 : old.carries + (old.seq === c.seq ? 0 : 1)
      if (bound === undefined) {
        const [top] = await this.#ranked(c, quote(term), 1, undefined)
        bound = top?.score ?? 0
      }
      best.set(term, bound)
      reads.found.set(term, { seq: c.seq, totals, hits: now, bound, carries })
    }
    return best
  }

  /**
   * The bound of `term` carried from the state it was found at to this one (read with `totals`,
   * the word in `hits` records), or `undefined` when it has none yet or more than
   * `MOST_CARRIED_CHANGES` records changed in between. A record that did not change has the same
   * term frequency and length, so its contribution changed only through the IDF, computed exactly
   * from both states' counts, and through the average length, by which a BM25 term weight grows
   * at most in proportion: the old bound times both ratios still bounds every unchanged record.
   * The changed records' contributions are computed exactly from their word counts.
   */
  async #carried(
    c: CollectionRow,
    old: WordState,
    totals: Fts5Totals,
    hits: number,
    term: string,
    reads: StateReads,
  ): Promise<number | undefined> {
    if (old.bound === undefined || old.seq > c.seq || old.carries >= MOST_CARRIES) return undefined
    if (old.seq === c.seq) return old.bound
    if (totals.rows === 0 || old.totals.rows === 0 || old.totals.tokens === 0) return undefined
    const changed = await this.#changedSince(c, old.seq, reads)
    if (changed === null) return undefined
    const idf = bm25Idf(totals.rows, hits)
    const idfGrowth = idf / bm25Idf(old.totals.rows, old.hits)
    const average = totals.tokens / totals.rows
    const lengthGrowth = Math.max(1, average / (old.totals.tokens / old.totals.rows))
    let bound = old.bound * idfGrowth * lengthGrowth
    for (const { frequency, length } of changed.holders.get(term) ?? []) {
      bound = Math.max(bound, bm25Contribution(idf, frequency, length, average))
    }
    return bound
  }

  /** FTS5's totals at this search's state, read once per search; `undefined` when unreadable. */
  async #totals(c: CollectionRow, reads: StateReads): Promise<Fts5Totals | undefined> {
    if (reads.totals === undefined)
      reads.totals = (await fts5Totals(this.#db, collectionTables(c.cid).text)) ?? null
    return reads.totals ?? undefined
  }

  /**
   * The query words in the records changed since state `from`; `null` when more than
   * `MOST_CARRIED_CHANGES` changed. The query's words hold at various earlier states, so the
   * changed records are read once per search, from the oldest of them, and each later state takes
   * its part of them.
   */
  async #changedSince(c: CollectionRow, from: number, reads: StateReads): Promise<ChangedWords | null> {
    let changed = reads.changes.get(from)
    if (changed !== undefined) return changed
    const probe = reads.probe
    if (probe !== undefined && probe.from <= from) {
      changed = changedAfter(probe, from)
    } else {
      const t = collectionTables(c.cid)
      changed = null
      for (const start of new Set([this.#oldestState(c, reads.words, from), from])) {
        if ((await countChanged(this.#db, t.vectors, start, MOST_CARRIED_CHANGES)) > MOST_CARRIED_CHANGES)
          continue
        reads.probe = await changedWords(this.#db, t.vectors, start, reads.words)
        changed = changedAfter(reads.probe, from)
        break
      }
    }
    reads.changes.set(from, changed)
    return changed
  }

  /** The oldest earlier state (at most `from`) that the statistics kept for any of `words` hold at. */
  #oldestState(c: CollectionRow, words: readonly string[], from: number): number {
    const kept = this.#knownWords(c)
    let oldest = from
    for (const word of words) {
      const seq = kept.get(word)?.seq
      if (seq !== undefined && seq < oldest) oldest = seq
    }
    return oldest
  }

  /** Keeps what the search read for later states, once the collection proves still at its state. */
  async #keep(c: CollectionRow, reads: StateReads): Promise<void> {
    if (reads.found.size === 0 || !(await this.#unchanged(c))) return
    const words = this.#knownWords(c)
    for (const [term, state] of reads.found) words.set(term, state)
  }

  /** The word statistics kept for this collection, started afresh for another one (or a new namesake). */
  #knownWords(c: CollectionRow): Map<string, WordState> {
    let kept = this.#words
    if (kept?.cid !== c.cid || kept.uid !== c.uid || kept.terms.size > FREQUENCY_CACHE) {
      kept = { cid: c.cid, uid: c.uid, terms: new Map() }
      this.#words = kept
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
