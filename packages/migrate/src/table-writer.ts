import { type SqlDialect, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import { quoteName } from './sql-names.js'

/**
 * Rows per batch (and per target transaction) unless the caller says otherwise. Larger batches
 * measured faster up to about this size on the 500,000-turn benchmark; beyond it they only cost memory.
 */
export const DEFAULT_BATCH = 5000

/** What to do with a row whose key the target already holds. */
export type ConflictPolicy = 'error' | 'skip' | 'replace'

/** A target column as its catalog declares it. */
export interface WriterColumn {
  /** The column's name in the target. */
  readonly name: string
  /** The target's declared type (Postgres needs it to type the arrays it inserts from). */
  readonly type: string
}

/** Options for `createTableWriter`. */
export interface TableWriterOptions {
  /** The target's dialect. */
  readonly dialect: SqlDialect
  /** The target table's name. */
  readonly table: string
  /** The columns each row gives values for, in order. */
  readonly columns: readonly WriterColumn[]
  /** The target's primary key columns (needed by `'replace'`). */
  readonly primaryKey: readonly string[]
  /** What a row whose key exists already does. */
  readonly onConflict: ConflictPolicy
  /** The target has a `GENERATED ALWAYS` identity column among `columns`, so explicit values need OVERRIDING SYSTEM VALUE. */
  readonly overridingSystemValue?: boolean
}

/** Inserts rows into one table in as few statements as the dialect allows. */
export interface TableWriter {
  /** Writes the rows with `tx` and returns how many were inserted or replaced (skipped ones are not counted). */
  write(tx: StorageAdapter, rows: readonly SqlValue[][]): Promise<number>
  /**
   * Postgres, when no column is bytea or an array: writes rows given as JSON array texts (as
   * SQLite's `json_array` renders them) without turning them into values first. Each value goes
   * through its column type's input, which refuses what the column cannot hold.
   */
  writeJson?: (tx: StorageAdapter, rows: readonly string[]) => Promise<number>
}

// SQLite binds at most 32,766 parameters a statement; Postgres 65,535 (the unnest form binds one per column).
const SQLITE_PARAMETERS = 32_766
const POSTGRES_PARAMETERS = 65_535

/**
 * Builds the insert for one table. On Postgres a batch goes in as one JSONB document, an array
 * of rows, through `INSERT … SELECT (r->>0)::type, … FROM jsonb_array_elements($1) r`: one
 * statement a batch whatever its size, serialised by V8's JSON.stringify and parsed by Postgres
 * in C, which measured faster than both multi-row VALUES and one array per column. SQLite (and
 * Postgres tables with array columns, whose values JSON would flatten) use multi-row VALUES.
 * Conflicts: `'error'` fails the batch, `'skip'` is `ON CONFLICT DO NOTHING`, `'replace'`
 * updates every non-key column of the existing row.
 */
export function createTableWriter(options: TableWriterOptions): TableWriter {
  const { dialect, columns } = options
  if (columns.length === 0)
    throw new StorageError('INVALID_ARGUMENT', `${options.table} has no columns to copy`)
  const conflict = conflictClause(options)
  const head = `INSERT INTO ${quoteName(options.table)} (${columns.map((c) => quoteName(c.name)).join(', ')})${
    options.overridingSystemValue ? ' OVERRIDING SYSTEM VALUE' : ''
  }`
  if (dialect === 'postgres' && columns.every((c) => !c.type.endsWith('[]'))) {
    const values = columns.map((c, i) => `(r->>${i})::${c.type}`).join(', ')
    const sql = `${head} SELECT ${values} FROM jsonb_array_elements(?::jsonb) AS r${conflict}`
    const jsonOk = columns.every((c) => c.type !== 'bytea')
    return {
      async write(tx, rows) {
        if (rows.length === 0) return 0
        return (await tx.run(sql, [JSON.stringify(forJsonb(rows))])).changes
      },
      ...(jsonOk
        ? {
            async writeJson(tx: StorageAdapter, rows: readonly string[]) {
              if (rows.length === 0) return 0
              return (await tx.run(sql, [`[${rows.join(',')}]`])).changes
            },
          }
        : {}),
    }
  }
  const limit = dialect === 'postgres' ? POSTGRES_PARAMETERS : SQLITE_PARAMETERS
  const perStatement = Math.max(1, Math.min(500, Math.floor(limit / columns.length)))
  const tuple = `(${columns.map(() => '?').join(', ')})`
  const statements = new Map<number, string>()
  const statementFor = (count: number): string => {
    let sql = statements.get(count)
    if (sql === undefined) {
      sql = `${head} VALUES ${Array.from({ length: count }, () => tuple).join(', ')}${conflict}`
      statements.set(count, sql)
    }
    return sql
  }
  return {
    async write(tx, rows) {
      let changes = 0
      for (let start = 0; start < rows.length; start += perStatement) {
        const slice = rows.slice(start, start + perStatement)
        changes += (await tx.run(statementFor(slice.length), slice.flat())).changes
      }
      return changes
    },
  }
}

/**
 * The rows as the JSONB document carries them, so `->>` hands Postgres the text its type's
 * input function reads: integers beyond 2^53 and non-finite or negative-zero numbers as their
 * digits, blobs in bytea's hex form; everything else is JSON already. Rows holding none of
 * those (nearly all) are passed through untouched, which keeps JSON.stringify on its fast path.
 */
function forJsonb(rows: readonly SqlValue[][]): readonly unknown[][] {
  let out: unknown[][] | undefined
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as SqlValue[]
    for (let c = 0; c < row.length; c++) {
      if (needsText(row[c])) {
        out ??= rows.slice()
        out[r] = row.map(jsonbValue)
        break
      }
    }
  }
  return out ?? rows
}

function needsText(value: unknown): boolean {
  return (
    typeof value === 'bigint' ||
    value instanceof Uint8Array ||
    (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0)))
  )
}

function jsonbValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  if (typeof value === 'number' && Object.is(value, -0)) return '-0'
  return value
}

function conflictClause(options: TableWriterOptions): string {
  switch (options.onConflict) {
    case 'error':
      return ''
    case 'skip':
      return ' ON CONFLICT DO NOTHING'
    case 'replace': {
      if (options.primaryKey.length === 0) {
        throw new StorageError(
          'UNSUPPORTED',
          `onConflict 'replace' needs a primary key, and ${options.table} has none; use 'skip' or 'error'`,
        )
      }
      const rest = options.columns.filter((c) => !options.primaryKey.includes(c.name))
      const key = options.primaryKey.map(quoteName).join(', ')
      if (rest.length === 0) return ` ON CONFLICT (${key}) DO NOTHING`
      return ` ON CONFLICT (${key}) DO UPDATE SET ${rest.map((c) => `${quoteName(c.name)} = excluded.${quoteName(c.name)}`).join(', ')}`
    }
    default:
      throw new StorageError(
        'INVALID_ARGUMENT',
        `onConflict must be 'error', 'skip' or 'replace', got ${JSON.stringify(options.onConflict)}`,
      )
  }
}
