import type { SqlValue, StorageAdapter } from '@engram/core'
import type { TableSchema } from './export-format.js'
import { quoteName } from './sql-names.js'

/** One page of rows in key order, and the key to continue after. */
export interface RowPage {
  /** The rows, each a list of values in the order of the columns asked for. */
  readonly rows: SqlValue[][]
  /** The last row's paging key (its primary key, or its rowid/ctid). */
  readonly key: SqlValue[]
}

/** Options for `readPages`. */
export interface ReadPagesOptions {
  /** Continue after this paging key (from a checkpoint). Default is the first row. */
  after?: readonly SqlValue[] | null
  /** Rows per page. */
  batchSize: number
  /** The columns to read, in this order. Default is every column of the table. */
  columns?: readonly string[]
}

// Types Postgres hands over exactly as JavaScript values; every other type is read as its text,
// which is what that type's input function takes back, so nothing is lost between two Postgres.
const NATIVE_PG =
  /^(smallint|integer|bigint|real|double precision|boolean|bytea|text|name|uuid|character( varying)?(\(\d+\))?)$/

/**
 * Reads a table page by page in key order with keyset pagination (`WHERE key > last ORDER BY
 * key LIMIT n`), so memory stays bounded and a stopped read can continue from a saved key.
 * Tables without a primary key are paged by SQLite's rowid or Postgres's ctid.
 */
export async function* readPages(
  db: StorageAdapter,
  table: TableSchema,
  options: ReadPagesOptions,
): AsyncGenerator<RowPage> {
  const names = options.columns ?? table.columns.map((c) => c.name)
  const select = names.map((name, i) => {
    const column = table.columns.find((c) => c.name === name)
    const text = db.dialect === 'postgres' && column !== undefined && !NATIVE_PG.test(column.type)
    return `${quoteName(name)}${text ? '::text' : ''} AS c${i}`
  })
  let keyExpr: string[]
  let keyFromRow: (row: Record<string, unknown>) => SqlValue[]
  let compare: (marks: string) => string
  if (table.order === 'key') {
    keyExpr = table.primaryKey.map(quoteName)
    const positions = table.primaryKey.map((key) => {
      const at = names.indexOf(key)
      if (at === -1) select.push(`${quoteName(key)} AS k${select.length}`)
      return at === -1 ? `k${select.length - 1}` : `c${at}`
    })
    keyFromRow = (row) => positions.map((p) => row[p] as SqlValue)
    compare = (marks) =>
      keyExpr.length === 1 ? `${keyExpr[0]} > ${marks}` : `(${keyExpr.join(', ')}) > (${marks})`
  } else if (table.order === 'rowid') {
    const alias = ['rowid', '_rowid_', 'oid'].find(
      (a) => !table.columns.some((c) => c.name.toLowerCase() === a),
    )
    if (alias === undefined)
      throw new Error(`${table.name} has columns named rowid, _rowid_ and oid, so it cannot be paged`)
    keyExpr = [alias]
    select.push(`${alias} AS k`)
    keyFromRow = (row) => [row.k as SqlValue]
    compare = (marks) => `${alias} > ${marks}`
  } else {
    keyExpr = ['ctid']
    select.push('ctid::text AS k')
    keyFromRow = (row) => [row.k as SqlValue]
    compare = (marks) => `ctid > ${marks}::tid`
  }
  const base = `SELECT ${select.join(', ')} FROM ${quoteName(table.name)}`
  const order = ` ORDER BY ${keyExpr.join(', ')} LIMIT ?`
  const first = `${base}${order}`
  const next = `${base} WHERE ${compare(keyExpr.map(() => '?').join(', '))}${order}`
  const aliases = names.map((_, i) => `c${i}`)
  const fetch = (after: readonly SqlValue[] | null) =>
    db.all<Record<string, unknown>>(after === null ? first : next, [...(after ?? []), options.batchSize])
  let pending = fetch(options.after ?? null)
  for (;;) {
    const rows = await pending
    if (rows.length === 0) return
    const key = keyFromRow(rows[rows.length - 1] as Record<string, unknown>)
    const more = rows.length === options.batchSize
    // The next page is asked for before this one is handed over, so a server reads it while the caller works.
    if (more) {
      pending = fetch(key)
      pending.catch(() => undefined)
    }
    const values = new Array<SqlValue[]>(rows.length)
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>
      const out = new Array<SqlValue>(aliases.length)
      for (let i = 0; i < aliases.length; i++) out[i] = row[aliases[i] as string] as SqlValue
      values[r] = out
    }
    yield { rows: values, key }
    if (!more) return
  }
}

/** The number of rows in a table. */
export async function countRows(db: StorageAdapter, table: string): Promise<number> {
  const row = await db.get<{ n: number | bigint | string }>(`SELECT COUNT(*) AS n FROM ${quoteName(table)}`)
  return Number(row?.n ?? 0)
}
