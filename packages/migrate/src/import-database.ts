import { type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import { CheckpointStore } from './checkpoint-store.js'
import { EXPORT_FORMAT, EXPORT_VERSION, type ExportHeader } from './export-format.js'
import type { ItemReport } from './migrate.js'
import { planTables, type TablePlan } from './plan-tables.js'
import { problemsError } from './problem.js'
import { type ChunkSource, readLines } from './read-lines.js'
import { readSchema } from './read-schema.js'
import { TableChecksum } from './table-checksum.js'
import type { ColumnTypes } from './table-ddl.js'
import { openTableTarget, type TableTarget } from './table-target.js'
import { type ConflictPolicy, DEFAULT_BATCH } from './table-writer.js'
import { decodeValue } from './value-codec.js'

/** Options for `importDatabase`. */
export interface ImportOptions {
  /** A row whose key the target already has (and this import did not write): `'error'`, `'skip'` or `'replace'`. Default is `'error'`. */
  onConflict?: ConflictPolicy
  /** Rows per target transaction. Default is `5000`. */
  batchSize?: number
  /** Only these tables of the export. Default is all of them. */
  tables?: readonly string[]
  /** Target column types that replace the translation, keyed `'table.column'`. */
  columnTypes?: ColumnTypes
  /** Called after each batch with the table's rows done and its total. */
  onProgress?: (done: number, total: number, table: string) => void
}

/** What `importDatabase` did. */
export interface ImportResult {
  /** The export's id; importing it again continues where this left off, or adds nothing. */
  readonly exportId: string
  /** Each table of the export that was imported. */
  readonly tables: ItemReport[]
  /** Rows this call wrote. */
  readonly rows: number
  /** Wall time, in milliseconds. */
  readonly durationMs: number
  /** What the target does not get although no data is lost. */
  readonly notes: string[]
}

/**
 * Writes an engram export into a database: creates the tables it lacks (translating types
 * between SQLite and Postgres), then writes each table's rows in batches, one transaction per
 * batch with a checkpoint, so importing the same export again continues after the last batch
 * (or adds nothing). Each table's rows are checked against its count and checksum line; a
 * damaged or cut-short file is reported as such.
 *
 * @example
 * await importDatabase(db, createReadStream('backup.jsonl.gz').pipe(createGunzip()))
 */
export async function importDatabase(
  db: StorageAdapter,
  source: ChunkSource,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const started = performance.now()
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new StorageError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`)
  }
  const lines = readLines(source)[Symbol.asyncIterator]()
  const header = checkHeader(await nextLine(lines, 'its header'))
  const wanted = options.tables
  const tables = wanted === undefined ? header.tables : header.tables.filter((t) => wanted.includes(t.name))
  for (const name of wanted ?? []) {
    if (!header.tables.some((t) => t.name === name)) {
      throw new StorageError(
        'NOT_FOUND',
        `The export has no table ${name}; it has ${header.tables.map((t) => t.name).join(', ')}`,
      )
    }
  }
  const checkpoints = new CheckpointStore(db, `import:${header.exportId}`)
  const planned = await planTables(
    { dialect: header.dialect, tables, virtualTables: [] },
    db,
    await readSchema(db),
    db.dialect,
    {
      onConflict: options.onConflict ?? 'error',
      resume: true,
      columnTypes: options.columnTypes ?? {},
      checkpoints: await checkpoints.load(),
      count: async (table) => header.rowCounts[table.name] ?? 0,
    },
  )
  if (planned.problems.length > 0) throw problemsError(planned.problems)
  await checkpoints.ensure()
  const plans = new Map(planned.tables.map((p) => [p.source.name, p]))
  const reports: ItemReport[] = []
  let written = 0
  for (const table of header.tables) {
    const start = parseLine(await nextLine(lines, `the start of table ${table.name}`))
    if ((start as { table?: unknown }).table !== table.name) {
      throw damaged(`expected the rows of ${table.name}, found ${JSON.stringify(start).slice(0, 80)}`)
    }
    const plan = plans.get(table.name)
    const result = await importTable(lines, table.name, plan, db, header, checkpoints, options, batchSize)
    if (plan) {
      written += result
      const status = plan.action === 'skip' ? 'already-done' : plan.checkpoint ? 'resumed' : 'copied'
      reports.push({
        name: table.name,
        sourceRows: header.rowCounts[table.name] ?? 0,
        copied: result,
        status,
      })
    }
  }
  const trailer = parseLine(await nextLine(lines, 'its last line')) as { complete?: unknown }
  if (trailer.complete !== true) throw damaged('its last line is not the end-of-export line')
  return {
    exportId: header.exportId,
    tables: reports,
    rows: written,
    durationMs: performance.now() - started,
    notes: planned.notes,
  }
}

/** Reads one table's section up to its end line, writing the rows a plan asks for; returns rows written. */
async function importTable(
  lines: AsyncIterator<string>,
  name: string,
  plan: TablePlan | undefined,
  db: StorageAdapter,
  header: ExportHeader,
  checkpoints: CheckpointStore,
  options: ImportOptions,
  batchSize: number,
): Promise<number> {
  const writing = plan !== undefined && plan.action !== 'skip'
  let target: TableTarget | undefined
  if (writing) {
    target = await openTableTarget({
      target: db,
      plan,
      sourceDialect: header.dialect,
      checkpoints,
      item: `table:${name}`,
      onConflict: options.onConflict ?? 'error',
    })
  }
  const skip = plan?.checkpoint?.copied ?? 0
  const total = header.rowCounts[name] ?? 0
  const sum = new TableChecksum()
  let batch: SqlValue[][] = []
  let written = 0
  options.onProgress?.(skip, total, name)
  let done = skip
  const flush = async () => {
    if (target && batch.length > 0) {
      const end = { lastKey: null, copied: sum.rows }
      written += await target.writeBatch({ rows: batch }, end, { from: done, after: Promise.resolve() })
        .committed
      done = end.copied
      options.onProgress?.(sum.rows, Math.max(total, sum.rows), name)
    }
    batch = []
  }
  for (;;) {
    const line = await nextLine(lines, `the end of table ${name}`)
    if (line.startsWith('[')) {
      const raw = parseLine(line)
      if (!Array.isArray(raw)) throw damaged(`a row of ${name} is not a list`)
      const row = raw.map(decodeValue)
      sum.add(row)
      if (writing && sum.rows > skip) {
        batch.push(row)
        if (batch.length >= batchSize) await flush()
      }
      continue
    }
    const end = parseLine(line) as { end?: unknown; rows?: unknown; checksum?: unknown }
    if (end.end !== name) throw damaged(`expected the end of ${name}, found ${line.slice(0, 80)}`)
    if (end.rows !== sum.rows || end.checksum !== sum.hex) {
      throw damaged(
        `${name} has ${sum.rows} rows where its end line says ${String(end.rows)}, or their checksum differs`,
      )
    }
    await flush()
    if (target) await target.finish({ lastKey: null, copied: sum.rows })
    if (!writing || sum.rows <= skip) options.onProgress?.(sum.rows, sum.rows, name)
    return written
  }
}

function checkHeader(line: string): ExportHeader {
  const header = parseLine(line) as Partial<ExportHeader>
  if (header.format !== EXPORT_FORMAT) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'This is not an engram export (its first line has no "format": "engram-export")',
    )
  }
  if (header.version !== EXPORT_VERSION) {
    throw new StorageError(
      'UNSUPPORTED',
      `This export is format version ${header.version}; this @engram/migrate reads version ${EXPORT_VERSION}: upgrade @engram/migrate`,
    )
  }
  if (
    !Array.isArray(header.tables) ||
    typeof header.exportId !== 'string' ||
    typeof header.rowCounts !== 'object'
  ) {
    throw damaged('its header has no tables, exportId or rowCounts')
  }
  return header as ExportHeader
}

async function nextLine(lines: AsyncIterator<string>, what: string): Promise<string> {
  for (;;) {
    const next = await lines.next()
    if (next.done) throw damaged(`it ends before ${what}; it was cut short`)
    if (next.value.length > 0) return next.value
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line)
  } catch {
    throw damaged(`a line is not JSON: ${line.slice(0, 80)}`)
  }
}

function damaged(detail: string): StorageError {
  return new StorageError(
    'INVALID_ARGUMENT',
    `The export is damaged: ${detail}. Rows imported so far stay; import a complete export to finish.`,
  )
}
