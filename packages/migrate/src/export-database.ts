import { randomUUID } from 'node:crypto'
import { type StorageAdapter, StorageError } from '@engram/core'
import {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportHeader,
  type ExportTrailer,
  type TableEnd,
  type TableStart,
} from './export-format.js'
import { readSchema } from './read-schema.js'
import { TableChecksum } from './table-checksum.js'
import { countRows, readPages } from './table-reader.js'
import { DEFAULT_BATCH } from './table-writer.js'
import { encodeValue } from './value-codec.js'

/** Options for `exportDatabase`. */
export interface ExportOptions {
  /** Tables to export. Default is every table except the vector engines' and the checkpoint table. */
  tables?: readonly string[]
  /** Rows read per page (and per yielded chunk). Default is `5000`. */
  batchSize?: number
  /** Called after each page with the table's rows written so far and its total. */
  onProgress?: (done: number, total: number, table: string) => void
}

/**
 * Streams a database as engram's JSON Lines export (see docs/migrate.md): a header with the
 * format version, the dialect, and each table's columns, key, indexes and foreign keys; then
 * each table's rows in primary-key order (rowid or ctid where there is none), read with
 * keyset pagination so memory stays bounded however large the table; each table closed by a
 * line with its row count and checksum; and a last line saying the export is complete.
 * Blobs, integers beyond 2^53, NULLs and text come back exactly.
 *
 * Yields text chunks that end at line boundaries; write them as they come.
 *
 * @example
 * await pipeline(Readable.from(exportDatabase(db)), createGzip(), createWriteStream('backup.jsonl.gz'))
 */
export async function* exportDatabase(
  db: StorageAdapter,
  options: ExportOptions = {},
): AsyncGenerator<string> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new StorageError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`)
  }
  const schema = await readSchema(db, options.tables === undefined ? {} : { tables: options.tables })
  if (schema.virtualTables.length > 0) {
    throw new StorageError(
      'UNSUPPORTED',
      `${schema.virtualTables.join(', ')} ${schema.virtualTables.length === 1 ? 'is a virtual table' : 'are virtual tables'} (full text or R-tree), which cannot be exported row by row; leave them out with tables`,
    )
  }
  const rowCounts: Record<string, number> = {}
  for (const table of schema.tables) rowCounts[table.name] = await countRows(db, table.name)
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportId: randomUUID(),
    dialect: schema.dialect,
    createdAt: new Date().toISOString(),
    tables: schema.tables,
    rowCounts,
  }
  yield `${JSON.stringify(header)}\n`
  let total = 0
  for (const table of schema.tables) {
    const start: TableStart = { table: table.name }
    yield `${JSON.stringify(start)}\n`
    const sum = new TableChecksum()
    const expected = rowCounts[table.name] ?? 0
    options.onProgress?.(0, expected, table.name)
    for await (const page of readPages(db, table, { batchSize })) {
      const lines = new Array<string>(page.rows.length)
      for (let r = 0; r < page.rows.length; r++) {
        const row = page.rows[r] as unknown[]
        sum.add(row)
        lines[r] = JSON.stringify(row.map(encodeValue))
      }
      yield `${lines.join('\n')}\n`
      options.onProgress?.(sum.rows, Math.max(expected, sum.rows), table.name)
    }
    const end: TableEnd = { end: table.name, rows: sum.rows, checksum: sum.hex }
    yield `${JSON.stringify(end)}\n`
    total += sum.rows
  }
  const trailer: ExportTrailer = { complete: true, tables: schema.tables.length, rows: total }
  yield `${JSON.stringify(trailer)}\n`
}
