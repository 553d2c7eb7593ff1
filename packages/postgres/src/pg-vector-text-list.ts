import type { SqlValue } from '@engram/core'

/**
 * The query words `column` (a tsvector made by `to_tsvector`) holds more than once, as a
 * tsvector without positions. Written with built-in functions only, so it can be indexed without
 * a function of our own: the tsvector's text form (`'in':4,7 'tea':2`) with every entry of one
 * position removed, read back. An entry is a quoted lexeme (inner quotes doubled) and its
 * positions, entries are separated by single spaces, and a lexeme from the text search parser
 * never holds a space, so a removal is always one whole entry and what remains is a valid tsvector.
 */
export function repeatedWordsSql(column: string): string {
  return `strip(regexp_replace(${column}::text, '''(?:[^'' ]|'''')*'':[0-9]+[A-D]?(?= |$)', '', 'g')::tsvector)`
}

/**
 * The GIN index on a collection table's repeated words, which exact text ranking by tiers needs.
 * Partial: most records repeat no word, and an index entry for an empty value would only slow inserts.
 */
export function repeatedWordsIndexDdl(table: string, relation: string): string {
  const words = repeatedWordsSql('tsv')
  return `CREATE INDEX IF NOT EXISTS "${relation}_repeats" ON ${table} USING gin ((${words})) WITH (fastupdate = off)
    WHERE ${words} <> ''::tsvector`
}

/** The name of that index, schema-qualified, for `to_regclass`. */
export function repeatedWordsIndexName(schema: string, relation: string): string {
  return `"${schema}"."${relation}_repeats"`
}

/** A tsquery of the lexemes in a bound text array, joined by `operator`; lexemes hold no spaces, so `' '` only ever separates two of them. */
export function lexemesToTsquery(array: string, operator: '|' | '&'): string {
  return `replace(strip(array_to_tsvector(${array}))::text, ''' ''', ''' ${operator} ''')::tsquery`
}

/** What a text list is drawn from. */
export interface TextListSpec {
  /** The quoted collection table. */
  readonly table: string
  /** The filter's condition on `t.metadata` (`TRUE` for none). */
  readonly condition: string
  /** The query's distinct lexemes; bound as `:terms`. */
  readonly lexemes: readonly string[]
  /** The placeholder of how many matches the list keeps (`:top` or `:candidates`). */
  readonly depth: string
  /** Whether the table has the repeated-words index, without which ranking by tiers is not exact. */
  readonly tiered: boolean
  /**
   * Whether `score` must be `ts_rank_cd` itself (text mode returns it). Hybrid needs only the order,
   * so on the tiered path its `score` is the number of query-word positions, which orders the same.
   */
  readonly scored: boolean
}

/** Most `tsv @@ …` conditions a tiered list may hold (each a bound parameter and a bitmap index scan). */
const MAX_TIER_CLAUSES = 64

/**
 * SQL for the text list: the `depth` records (of the tenant, passing the filter) that hold at least
 * one of the lexemes, ranked by `ts_rank_cd` against their OR, best first, equal scores by id. Its
 * columns are `id` and `score`. Adds `:terms` (and the tiers' `:w0`, `:w1`, …) to `params`.
 *
 * `ts_rank_cd` costs about 10 µs a row, and a common word matches a large part of a big collection,
 * so ranking every match is what made text and hybrid search slow. With the repeated-words index the
 * same list comes from far fewer rows. For an OR of lexemes over a tsvector from `to_tsvector`
 * (every position of weight D), each position of a query lexeme is a cover worth 0.1, so
 * `ts_rank_cd` grows strictly with `n`, the number of those positions. A record that repeats no
 * query word has `n = d`, the number of distinct query words it holds.
 * - Tier `t` is the set of records holding at least `t` of the words: an OR of ANDs that the tsv
 *   GIN index answers as one bitmap scan per AND. If tier `t` has at least `depth` records, every
 *   record outside it that repeats no query word has `n ≤ t − 1` and ranks below all of them, so
 *   tier `t` and the repeaters (found by the repeated-words index) hold the whole list. Tiers are
 *   tried from the most words down, each only while every tier above fell short.
 * - Below tier 2, a record in no tier that repeats nothing has `n = 1`, so the ones that make the
 *   list are the first by id among all matches: tier 2, the repeaters and the first `depth` matches
 *   by id hold it.
 * - The candidates are ordered by `n` (`d` from `ts_delete`, about a microsecond, or every position
 *   for a repeater) and `ts_rank_cd` scores only the `depth` kept (none when `scored` is false).
 * A query with too many words for the clause budget ranks every match, as does a table without the
 * index.
 */
export function textListSql(spec: TextListSpec, params: Record<string, SqlValue>): string {
  const { table, condition, lexemes, depth } = spec
  if (lexemes.length > 0) params.terms = [...lexemes]
  const anyWord = lexemesToTsquery(':terms::text[]', '|')
  // `text IS NOT NULL` lets the planner use a text index that leaves out records without text.
  const scope = `t.tenant_id = :tenant AND t.text IS NOT NULL AND ${condition}`
  const distinctWords = 'length(t.tsv) - length(ts_delete(t.tsv, :terms::text[]))'
  const everyPosition =
    '(SELECT sum(cardinality(u.positions)) FROM unnest(t.tsv) AS u WHERE u.lexeme = ANY(:terms::text[]))'
  const kept = (from: string) =>
    `SELECT b.id, b.tsv, b.n FROM (
       SELECT DISTINCT ON (a.id) a.id, a.tsv, a.n FROM (${from}) a ORDER BY a.id, a.n DESC
     ) b ORDER BY b.n DESC, b.id LIMIT ${depth}`
  const ranked = (from: string) =>
    spec.scored
      ? `SELECT c.id, ts_rank_cd(c.tsv, ${anyWord}) AS score FROM (${kept(from)}) c`
      : `SELECT c.id, c.n AS score FROM (${kept(from)}) c`
  if (lexemes.length === 0) return `SELECT t.id, 0::real AS score FROM ${table} t WHERE FALSE`
  const levels = spec.tiered ? tierLevels(lexemes.length) : undefined
  if (levels === undefined) {
    return `SELECT t.id, ts_rank_cd(t.tsv, ${anyWord}) AS score FROM ${table} t
      WHERE ${scope} AND t.tsv @@ ${anyWord} ORDER BY score DESC, t.id LIMIT ${depth}`
  }
  const repeatedWords = repeatedWordsSql('t.tsv')
  const ctes: string[] = []
  const arms: string[] = []
  const shortOf: string[] = [] // "every tier computed so far fell short of depth"
  let next = 0
  for (const level of levels) {
    const clauses = subsets(lexemes, level).map((words) => {
      const name = `w${next++}`
      params[name] = words
      return `t.tsv @@ ${lexemesToTsquery(`:${name}::text[]`, '&')}`
    })
    const cte = `tier${level}`
    const gate = shortOf.length === 0 ? '' : `${shortOf.join(' AND ')} AND `
    ctes.push(`${cte} AS MATERIALIZED (
      SELECT t.id, t.tsv, ${distinctWords} AS n FROM ${table} t
      WHERE ${gate}${scope} AND (${clauses.join(' OR ')}))`)
    arms.push(`SELECT id, tsv, n FROM ${cte}`)
    shortOf.push(`(SELECT count(*) FROM ${cte}) < ${depth}`)
  }
  const gate = shortOf.length === 0 ? '' : `${shortOf.join(' AND ')} AND `
  const rest = levels.includes(2) || lexemes.length === 1 ? `ORDER BY t.id LIMIT ${depth}` : ''
  ctes.push(`rest AS MATERIALIZED (
      SELECT t.id, t.tsv, ${distinctWords} AS n FROM ${table} t
      WHERE ${gate}${scope} AND t.tsv @@ ${anyWord} ${rest})`)
  ctes.push(`repeats AS MATERIALIZED (
      SELECT t.id, t.tsv, ${everyPosition} AS n FROM ${table} t
      WHERE ${scope} AND ${repeatedWords} <> ''::tsvector AND ${repeatedWords} @@ ${anyWord})`)
  arms.push('SELECT id, tsv, n FROM rest', 'SELECT id, tsv, n FROM repeats')
  return `WITH ${ctes.join(',\n    ')}
    ${ranked(arms.join(' UNION ALL '))}`
}

/**
 * The tiers (word counts) a query of `count` lexemes is ranked through, most words first, within
 * the clause budget; tier 2 is kept whenever it fits, since below it the cheap id-order arm is exact.
 * `undefined` means rank every match.
 */
function tierLevels(count: number): number[] | undefined {
  if (count === 0) return undefined
  if (count === 1) return []
  let budget = MAX_TIER_CLAUSES
  const pairs = binomial(count, 2)
  const withPairs = pairs <= budget
  if (withPairs) budget -= pairs
  const levels: number[] = []
  for (let level = count; level > 2; level--) {
    const size = binomial(count, level)
    if (size > budget) break
    budget -= size
    levels.push(level)
  }
  if (withPairs) levels.push(2)
  return levels.length === 0 ? undefined : levels
}

function binomial(n: number, k: number): number {
  let result = 1
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i
  return Math.round(result)
}

/** Every `size`-element subset of `items`, in order. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  const pick = (start: number, chosen: T[]) => {
    if (chosen.length === size) {
      out.push([...chosen])
      return
    }
    for (let i = start; i <= items.length - (size - chosen.length); i++) {
      chosen.push(items[i] as T)
      pick(i + 1, chosen)
      chosen.pop()
    }
  }
  pick(0, [])
  return out
}
