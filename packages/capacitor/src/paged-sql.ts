/**
 * Wraps a query so it returns one page of its rows: `SELECT * FROM (<sql>) LIMIT n OFFSET m`.
 * Returns `undefined` for statements that cannot be a subquery (PRAGMA, INSERT … RETURNING, a
 * script), which then run whole. The plugin has no cursor, so this is how `iterate()` keeps
 * memory bounded and `get()` fetches one row instead of every row across the bridge.
 */
export function pagedSql(sql: string, limit: number, offset: number): string | undefined {
  const body = stripTrailing(sql)
  if (!/^(SELECT|WITH|VALUES)\b/i.test(skipLeadingComments(body))) return undefined
  // Newlines keep a trailing `-- comment` in the query from swallowing the closing parenthesis.
  return `SELECT * FROM (\n${body}\n) LIMIT ${limit} OFFSET ${offset}`
}

/** Drops leading whitespace and comments so the first keyword can be read. */
function skipLeadingComments(sql: string): string {
  let rest = sql.trimStart()
  while (true) {
    if (rest.startsWith('--')) {
      const end = rest.indexOf('\n')
      rest = end < 0 ? '' : rest.slice(end + 1).trimStart()
    } else if (rest.startsWith('/*')) {
      const end = rest.indexOf('*/')
      rest = end < 0 ? '' : rest.slice(end + 2).trimStart()
    } else {
      return rest
    }
  }
}

/** Drops trailing whitespace and semicolons, which are not allowed inside a subquery. */
function stripTrailing(sql: string): string {
  return sql.replace(/[\s;]+$/, '')
}
