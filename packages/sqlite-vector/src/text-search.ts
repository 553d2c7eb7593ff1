import { type FilterNode, pruneCommonTerms, type SqlValue, type StorageAdapter } from '@engram/core'
import { type CollectionRow, collectionTables } from './collection-tables.js'
import { ftsMatchQuery } from './fts-match-query.js'
import { fts4Rank } from './fts4-rank.js'
import { type Hit, marks } from './record-rows.js'
import { sqliteWhere } from './sqlite-filter.js'
import { TopK } from './top-k.js'

/** Terms whose document frequency a store remembers (per collection state) before it starts over. */
const FREQUENCY_CACHE = 10_000

/** What text search needs from the store. */
export interface TextSearchConfig {
  /** Records a collection needs before very common query words are left out. */
  termPruningThreshold: number
  /** The share of records a word must be in to count as very common. */
  commonTermFraction: number
}

/**
 * Full-text search on one database: BM25 from FTS5's `bm25()`, or computed from FTS4's
 * `matchinfo`, over the collection's FTS table, with very common words pruned on large
 * collections using the index's own term statistics.
 */
export class TextSearch {
  readonly #db: StorageAdapter
  readonly #pruneFrom: number
  readonly #commonFraction: number
  /** Collections whose term-statistics table (`fts5vocab`/`fts4aux`, in the temp schema) this store created. */
  readonly #termTables = new Set<number>()
  /** Document frequencies already read, valid while the collection's change sequence stays the same. */
  #frequencies: { cid: number; seq: number; terms: Map<string, number> } | undefined

  constructor(db: StorageAdapter, { termPruningThreshold, commonTermFraction }: TextSearchConfig) {
    this.#db = db
    this.#pruneFrom = termPruningThreshold
    this.#commonFraction = commonTermFraction
  }

  /** The `k` best text matches among the records `filter` selects, best first. */
  async search(c: CollectionRow, text: string, k: number, filter: FilterNode | undefined): Promise<Hit[]> {
    const match = await this.#matchQuery(c, text)
    if (match === undefined) return []
    const t = collectionTables(c.cid)
    const where = filter && sqliteWhere(filter, 'v.metadata')
    const params: SqlValue[] = [match, ...(where?.params ?? [])]
    // Triggers keep the FTS rows in step with the records, so only a filter needs the records
    // joined; the join costs a row lookup per match, most of an unfiltered query's time.
    const join = where ? ` JOIN ${t.vectors} AS v ON v.label = ${t.text}.rowid` : ''
    const from = `FROM ${t.text}${join} WHERE ${t.text} MATCH ?${where ? ` AND ${where.sql}` : ''}`
    if (c.fts === 'fts5') {
      const rows = await this.#db.all<{ label: number; rank: number }>(
        `SELECT ${t.text}.rowid AS label, bm25(${t.text}) AS rank ${from} ORDER BY rank, label LIMIT ?`,
        [...params, k],
      )
      return rows.map((row) => ({ label: row.label, score: -row.rank }))
    }
    // FTS4 has no bm25(): rank every match from matchinfo, keeping only the best k.
    const top = new TopK(k)
    for await (const row of this.#db.iterate<{ label: number; info: Uint8Array }>(
      `SELECT ${t.text}.rowid AS label, matchinfo(${t.text}, 'pcnalx') AS info ${from}`,
      params,
    )) {
      top.push(row.label, fts4Rank(row.info))
    }
    return top.sorted()
  }

  /** Drops the collection's term-statistics table; call it before its FTS table is dropped. */
  async forget(tx: StorageAdapter, cid: number): Promise<void> {
    if (this.#termTables.delete(cid)) {
      await tx.exec(`DROP TABLE IF EXISTS temp.${collectionTables(cid).text}_terms`)
    }
  }

  /**
   * The MATCH expression for `text`: every word, or on a collection of at least
   * `termPruningThreshold` records every word but the very common ones. Text mode and hybrid's
   * text list both come through here, so hybrid stays RRF over the text mode's list.
   */
  async #matchQuery(c: CollectionRow, text: string): Promise<string | undefined> {
    const match = ftsMatchQuery(text)
    if (match === undefined || c.count < this.#pruneFrom) return match
    // ftsMatchQuery quotes whole words (letters, digits, marks), so no term holds a quote or a space.
    const terms = match.split(' OR ').map((quoted) => quoted.slice(1, -1))
    if (terms.length < 2) return match
    const frequencies = await this.#documentFrequencies(c, terms)
    const kept = pruneCommonTerms(terms, frequencies, c.count, this.#commonFraction)
    return kept.length === terms.length ? match : ftsMatchQuery(kept.join(' '))
  }

  /**
   * How many records hold each term, read from the FTS index's own statistics (an `fts5vocab` or
   * `fts4aux` table over it), one indexed lookup per term, remembered until the collection changes.
   * The statistics table lives in the connection's temp schema, so the database file is never
   * changed and read-only files work.
   */
  async #documentFrequencies(c: CollectionRow, terms: readonly string[]): Promise<Map<string, number>> {
    let cache = this.#frequencies
    if (cache?.cid !== c.cid || cache.seq !== c.seq || cache.terms.size > FREQUENCY_CACHE) {
      cache = { cid: c.cid, seq: c.seq, terms: new Map() }
      this.#frequencies = cache
    }
    const known = cache.terms
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
}
