import { type SqlDialect, type StorageAdapter, StorageError } from '@engram/core'
import { columnKind } from './column-type.js'
import type { TableSchema } from './export-format.js'
import { readSchema } from './read-schema.js'
import { targetName } from './sql-names.js'
import { TableChecksum } from './table-checksum.js'
import { countRows, readPages } from './table-reader.js'

/** One difference that verification found. */
export interface Mismatch {
  /** A SQL table or a vector collection. */
  readonly kind: 'table' | 'collection'
  /** Its name (in the source). */
  readonly name: string
  /** What differs, in a sentence. */
  readonly message: string
}

/** One table compared. */
export interface TableParity {
  /** The table's name in the first database. */
  readonly name: string
  /** Rows in the first database. */
  readonly rowsA: number
  /** Rows in the second, or `-1` when it has no such table. */
  readonly rowsB: number
  /** The first database's checksum (see `TableChecksum`). */
  readonly checksumA: string
  /** The second's, or `''`. */
  readonly checksumB: string
  /** Whether counts and checksums are equal. */
  readonly equal: boolean
}

/** What `checkParity` found. */
export interface ParityReport {
  /** Whether every table is equal. */
  readonly equal: boolean
  /** Each table compared. */
  readonly tables: TableParity[]
  /** What differs, one entry per table that does. */
  readonly mismatches: Mismatch[]
}

/** Options for `checkParity`. */
export interface CheckParityOptions {
  /** Tables of `a` to compare. Default is all of them (not the vector engines' or the checkpoint table). */
  tables?: readonly string[]
  /** Rows read per page. Default is `5000`. */
  batchSize?: number
  /** Called as rows are read, with the table and the rows done on both sides together. */
  onProgress?: (done: number, total: number, table: string) => void
}

/**
 * Compares tables of two databases, of the same or different dialects: row counts and
 * order-independent checksums of a canonical row encoding (the same value mapping on both
 * dialects, so SQLite's 1 equals Postgres's `true` and JSON text equals the JSONB it became).
 * Both sides are read concurrently, page by page. Use it before each step of a cutover.
 *
 * @example
 * const report = await checkParity(sqlite, postgres, { tables: ['engram_conversation_turns'] })
 * if (!report.equal) console.log(report.mismatches)
 */
export async function checkParity(
  a: StorageAdapter,
  b: StorageAdapter,
  options: CheckParityOptions = {},
): Promise<ParityReport> {
  const schemaA = await readSchema(a, options.tables === undefined ? {} : { tables: options.tables })
  const namesB = schemaA.tables.map((t) => targetName(a.dialect, b.dialect, t.name))
  const present = new Set((await readSchema(b)).tables.map((t) => t.name))
  const schemaB = await readSchema(b, { tables: namesB.filter((n) => present.has(n)) })
  const tables: TableParity[] = []
  const mismatches: Mismatch[] = []
  for (const table of schemaA.tables) {
    const other = schemaB.tables.find((t) => t.name === targetName(a.dialect, b.dialect, table.name))
    const parity = await compareTable(a, table, b, other, options)
    tables.push(parity)
    const mismatch = describeMismatch(parity, other === undefined)
    if (mismatch) mismatches.push(mismatch)
  }
  return { equal: mismatches.length === 0, tables, mismatches }
}

/** Compares one table of `a` with its counterpart in `b` (`undefined` when `b` has none). */
export async function compareTable(
  a: StorageAdapter,
  table: TableSchema,
  b: StorageAdapter,
  other: TableSchema | undefined,
  options: CheckParityOptions & { expectedRows?: number } = {},
): Promise<TableParity> {
  const batchSize = options.batchSize ?? 5000
  const columnsA = table.columns.map((c) => c.name)
  const columnsB = columnsA.map((c) => targetName(a.dialect, b.dialect, c))
  if (other === undefined) {
    const sum = await checksum(a, table, columnsA, [], batchSize)
    return { name: table.name, rowsA: sum.rows, rowsB: -1, checksumA: sum.hex, checksumB: '', equal: false }
  }
  const missing = columnsB.filter((c) => !other.columns.some((o) => o.name === c))
  if (missing.length > 0) {
    throw new StorageError(
      'NOT_FOUND',
      `The second database's ${other.name} has no column ${missing.join(', ')}`,
    )
  }
  const json = columnsA.map((name, i) => {
    const typeB = other.columns.find((c) => c.name === columnsB[i])?.type ?? ''
    const typeA = table.columns.find((c) => c.name === name)?.type ?? ''
    return isJson(a.dialect, typeA) || isJson(b.dialect, typeB)
  })
  let seen = 0
  const total = options.onProgress ? 2 * (options.expectedRows ?? (await countRows(a, table.name))) : 0
  options.onProgress?.(0, total, table.name)
  const progress = (rows: number) => {
    seen += rows
    options.onProgress?.(seen, total, table.name)
  }
  const [sumA, sumB] = await Promise.all([
    checksum(a, table, columnsA, json, batchSize, progress),
    checksum(b, other, columnsB, json, batchSize, progress),
  ])
  return {
    name: table.name,
    rowsA: sumA.rows,
    rowsB: sumB.rows,
    checksumA: sumA.hex,
    checksumB: sumB.hex,
    equal: sumA.rows === sumB.rows && sumA.hex === sumB.hex,
  }
}

/** A sentence for a table that differs, or `undefined` when it does not; `sides` names the two databases. */
export function describeMismatch(
  parity: TableParity,
  missing: boolean,
  sides: readonly [string, string] = ['the first database', 'the second'],
): Mismatch | undefined {
  if (parity.equal) return undefined
  const [a, b] = sides
  const message = missing
    ? `${parity.name} is missing from ${b} (${parity.rowsA} rows in ${a})`
    : parity.rowsA !== parity.rowsB
      ? `${parity.name} has ${parity.rowsA} rows in ${a} and ${parity.rowsB} in ${b}`
      : `${parity.name} has ${parity.rowsA} rows on both sides, but their contents differ (checksums ${parity.checksumA} and ${parity.checksumB})`
  return { kind: 'table', name: parity.name, message }
}

function isJson(dialect: SqlDialect, type: string): boolean {
  return columnKind(dialect, type) === 'json'
}

/** The checksum of every row of a table, read page by page. */
export async function checksum(
  db: StorageAdapter,
  table: TableSchema,
  columns: readonly string[],
  json: readonly boolean[],
  batchSize: number,
  onRows?: (rows: number) => void,
): Promise<TableChecksum> {
  const sum = new TableChecksum()
  for await (const page of readPages(db, table, { batchSize, columns })) {
    for (const row of page.rows) sum.add(row, json)
    onRows?.(page.rows.length)
  }
  return sum
}
