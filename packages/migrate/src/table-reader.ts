import type { SqlValue, StorageAdapter } from '@engram/core'
import type { TableSchema } from './export-format.js'
import { quoteName } from './sql-names.js'

/** One page of rows in key order, and the key to continue after. */
export interface RowPage {
  /** The rows, each a list of values in the order of the columns asked for. */
  readonly rows: SqlValue[][]
  /**
   * The same rows as JSON arrays, when the page was read from SQLite as JSON (see `readPages`):
   * integers exact, reals in full precision, text as it is, NULL as `null`.
   */
  readonly json: readonly string[] | undefined
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
const MAX_SAFE = '9007199254740991'

interface Fetched {
  readonly rows: ReadonlyArray<Record<string, unknown>>
  /** Read as JSON (`j` per row) rather than column by column. */
  readonly json: boolean
}

/**
 * Reads a table page by page in key order with keyset pagination (`WHERE key > last ORDER BY
 * key LIMIT n`), so memory stays bounded and a stopped read can continue from a saved key.
 * Tables without a primary key are paged by SQLite's rowid or Postgres's ctid.
 *
 * SQLite pages are read as one `json_array(…)` text per row where that can be done exactly,
 * because building a JavaScript object per row costs several times more than the JSON: a page
 * holding a blob (which JSON cannot hold) is read column by column instead, and so is one
 * holding an integer beyond 2^53 (which JSON.parse would round).
 */
export async function* readPages(
  db: StorageAdapter,
  table: TableSchema,
  options: ReadPagesOptions,
): AsyncGenerator<RowPage> {
  const names = options.columns ?? table.columns.map((c) => c.name)
  const columns = names.map((name) => table.columns.find((c) => c.name === name))
  let keyExpr: string[]
  let compare: (marks: string) => string
  if (table.order === 'key') {
    keyExpr = table.primaryKey.map(quoteName)
    compare = (marks) =>
      keyExpr.length === 1 ? `${keyExpr[0]} > ${marks}` : `(${keyExpr.join(', ')}) > (${marks})`
  } else if (table.order === 'rowid') {
    const alias = ['rowid', '_rowid_', 'oid'].find(
      (a) => !table.columns.some((c) => c.name.toLowerCase() === a),
    )
    if (alias === undefined)
      throw new Error(`${table.name} has columns named rowid, _rowid_ and oid, so it cannot be paged`)
    keyExpr = [alias]
    compare = (marks) => `${alias} > ${marks}`
  } else {
    keyExpr = ['ctid']
    compare = (marks) => `ctid > ${marks}::tid`
  }
  const keys = keyExpr.map((expr, i) => `${expr === 'ctid' ? 'ctid::text' : expr} AS k${i}`)
  const byColumn = names.map((name, i) => {
    const text = db.dialect === 'postgres' && columns[i] !== undefined && !NATIVE_PG.test(columns[i].type)
    return `${quoteName(name)}${text ? '::text' : ''} AS c${i}`
  })
  // Only columns whose SQLite affinity keeps integers can hold one beyond 2^53.
  const intColumns = names.filter((_, i) => !/CHAR|CLOB|TEXT|REAL|FLOA|DOUB/i.test(columns[i]?.type ?? ''))
  const big = intColumns.length
    ? intColumns
        .map(
          (n) =>
            `(typeof(${quoteName(n)}) = 'integer' AND (${quoteName(n)} > ${MAX_SAFE} OR ${quoteName(n)} < -${MAX_SAFE}))`,
        )
        .join(' OR ')
    : '0'
  const asJson = `json_array(${names.map(quoteName).join(', ')}) AS j, (${big}) AS big`
  const statement = (select: string, first: boolean) =>
    `SELECT ${select}, ${keys.join(', ')} FROM ${quoteName(table.name)}${
      first ? '' : ` WHERE ${compare(keyExpr.map(() => '?').join(', '))}`
    } ORDER BY ${keyExpr.join(', ')} LIMIT ?`
  let json = db.dialect === 'sqlite' && db.capabilities.json
  const query = (select: string, after: readonly SqlValue[] | null) =>
    db.all<Record<string, unknown>>(statement(select, after === null), [...(after ?? []), options.batchSize])
  const fetch = async (after: readonly SqlValue[] | null): Promise<Fetched> => {
    if (json) {
      try {
        const rows = await query(asJson, after)
        if (!rows.some((row) => Number(row.big) === 1)) return { rows, json: true }
      } catch {
        // A blob somewhere in the table: read it column by column from here on.
        json = false
      }
    }
    return { rows: await query(byColumn.join(', '), after), json: false }
  }
  let pending = fetch(options.after ?? null)
  for (;;) {
    const { rows, json: asText } = await pending
    if (rows.length === 0) return
    const last = rows[rows.length - 1] as Record<string, unknown>
    const key = keyExpr.map((_, i) => last[`k${i}`] as SqlValue)
    const more = rows.length === options.batchSize
    // The next page is asked for before this one is handed over, so a server reads it while the caller works.
    if (more) {
      pending = fetch(key)
      pending.catch(() => undefined)
    }
    yield asText ? jsonPage(rows, key) : columnPage(rows, names.length, key)
    if (!more) return
  }
}

function jsonPage(rows: ReadonlyArray<Record<string, unknown>>, key: SqlValue[]): RowPage {
  const json = rows.map((row) => row.j as string)
  let parsed: SqlValue[][] | undefined
  return {
    json,
    key,
    get rows() {
      parsed ??= json.map((text) => JSON.parse(text) as SqlValue[])
      return parsed
    },
  }
}

function columnPage(rows: ReadonlyArray<Record<string, unknown>>, width: number, key: SqlValue[]): RowPage {
  const aliases = Array.from({ length: width }, (_, i) => `c${i}`)
  const values = new Array<SqlValue[]>(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>
    const out = new Array<SqlValue>(width)
    for (let i = 0; i < width; i++) out[i] = row[aliases[i] as string] as SqlValue
    values[r] = out
  }
  return { rows: values, json: undefined, key }
}

/** The number of rows in a table. */
export async function countRows(db: StorageAdapter, table: string): Promise<number> {
  const row = await db.get<{ n: number | bigint | string }>(`SELECT COUNT(*) AS n FROM ${quoteName(table)}`)
  return Number(row?.n ?? 0)
}
