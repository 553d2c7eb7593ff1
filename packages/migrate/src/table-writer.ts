import { type SqlDialect, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import { quoteName } from './sql-names.js'

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
}

// SQLite binds at most 32,766 parameters a statement; Postgres 65,535 (the unnest form binds one per column).
const SQLITE_PARAMETERS = 32_766
const POSTGRES_PARAMETERS = 65_535

/**
 * Builds the insert for one table. On Postgres the rows go in as one array per column through
 * `INSERT … SELECT * FROM unnest($1::type[], …)`: one statement a batch, whatever its size,
 * and Postgres parses each array once. SQLite (and Postgres array columns, which unnest would
 * flatten) use multi-row VALUES. Conflicts: `'error'` fails the batch, `'skip'` is
 * `ON CONFLICT DO NOTHING`, `'replace'` updates every non-key column of the existing row.
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
    const sql = `${head} SELECT * FROM unnest(${columns.map((c) => `?::${c.type}[]`).join(', ')})${conflict}`
    return {
      async write(tx, rows) {
        if (rows.length === 0) return 0
        const arrays = columns.map((_, i) => rows.map((row) => row[i] ?? null))
        return (await tx.run(sql, arrays)).changes
      },
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
