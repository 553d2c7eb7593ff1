import type { SqlDialect, StorageAdapter } from '@engram/core'
import type { Checkpoint } from './checkpoint-store.js'
import { type ColumnKind, columnKind, translateType } from './column-type.js'
import type { TableSchema } from './export-format.js'
import type { Problem } from './problem.js'
import type { DatabaseSchema } from './read-schema.js'
import { targetName } from './sql-names.js'
import { type ColumnTypes, tableDdl } from './table-ddl.js'
import { countRows } from './table-reader.js'
import type { ConflictPolicy } from './table-writer.js'

/** What migration will do with one table. */
export interface TablePlan {
  /** The table as the source declares it. */
  readonly source: TableSchema
  /** Its name in the target. */
  readonly targetName: string
  /** Each source column's name in the target, in the source's column order. */
  readonly targetColumns: readonly string[]
  /** What each target column holds, in the same order. */
  readonly targetKinds: readonly ColumnKind[]
  /** The statements that create it in the target; empty when the target has it already. */
  readonly create: readonly string[]
  /** The statements that follow its rows (indexes, Postgres foreign keys): of this run's `create`, or of an earlier run that stopped before them. */
  readonly afterLoad: readonly string[]
  /** Rows in the source when the plan was made. */
  readonly sourceRows: number
  /** Where an earlier run of the same migration stopped. */
  readonly checkpoint: Checkpoint | undefined
  /** `'copy'` from the start, `'resume'` after the checkpoint, or `'skip'` (an earlier run finished it). */
  readonly action: 'copy' | 'resume' | 'skip'
}

/** Options that shape the plan. */
export interface PlanTablesOptions {
  readonly onConflict: ConflictPolicy
  readonly resume: boolean
  readonly columnTypes: ColumnTypes
  readonly checkpoints: ReadonlyMap<string, Checkpoint>
  /** The source's row count of a table. */
  readonly count: (table: TableSchema) => Promise<number>
  /** Checks the source's values against the target's column kinds (SQLite into Postgres); returns a sentence per misfit column. */
  readonly scan?: (table: TableSchema, kinds: readonly ColumnKind[]) => Promise<string[]>
}

/** The plan for every table, with what stops it (`problems`) and what it leaves out (`notes`). */
export interface TablesPlan {
  readonly tables: TablePlan[]
  readonly problems: Problem[]
  readonly notes: string[]
}

/**
 * Works out, before anything is written, how each source table (of a database or of an export
 * file) reaches the target: created (translated) or reused, copied, resumed or already done,
 * and every reason it cannot be. `target` is `undefined` for a dry run into a SQLite file that
 * does not exist yet.
 */
export async function planTables(
  schema: Pick<DatabaseSchema, 'dialect' | 'tables' | 'virtualTables'>,
  target: StorageAdapter | undefined,
  targetSchema: DatabaseSchema | undefined,
  targetDialect: SqlDialect,
  options: PlanTablesOptions,
): Promise<TablesPlan> {
  const from = schema.dialect
  const to = targetDialect
  const problems: Problem[] = schema.virtualTables.map((name) =>
    unsupported(
      `${name} is a virtual table (full text or R-tree), which cannot be copied row by row: recreate it in the target, or leave it out with tables`,
    ),
  )
  const notes: string[] = []
  const existing = new Map((targetSchema?.tables ?? []).map((t) => [t.name, t]))
  const moving = new Set(schema.tables.map((t) => targetName(from, to, t.name)))
  const tables: TablePlan[] = []
  for (const table of schema.tables) {
    const name = targetName(from, to, table.name)
    const targetColumns = table.columns.map((c) => targetName(from, to, c.name))
    const found = existing.get(name)
    let targetKinds: ColumnKind[]
    let create: readonly string[] = []
    let afterLoad: readonly string[] = pendingAfterLoad(options.checkpoints.get(`after-load:${table.name}`))
    if (found) {
      const missing = targetColumns.filter((c) => !found.columns.some((t) => t.name === c))
      if (missing.length > 0) {
        problems.push(
          invalid(
            `The target's ${name} has no column ${missing.join(', ')}; add it, or migrate into a database without ${name}`,
          ),
        )
      }
      targetKinds = targetColumns.map((c) =>
        columnKind(to, found.columns.find((t) => t.name === c)?.type ?? ''),
      )
    } else {
      const ddl = tableDdl(table, from, to, options.columnTypes)
      problems.push(...ddl.problems.map(unsupported))
      notes.push(...ddl.notes)
      create = ddl.statements
      afterLoad = ddl.afterLoad
      targetKinds = table.columns.map((c) =>
        columnKind(
          to,
          options.columnTypes[`${table.name}.${c.name}`] ?? translateType(from, to, c.type) ?? '',
        ),
      )
      for (const fk of table.foreignKeys) {
        const parent = targetName(from, to, fk.table)
        if (!moving.has(parent) && !existing.has(parent)) {
          problems.push(
            invalid(
              `${table.name} references ${fk.table}, which is neither migrated nor in the target: include ${fk.table} in tables`,
            ),
          )
        }
      }
    }
    const sourceRows = await options.count(table)
    const checkpoint = options.checkpoints.get(`table:${table.name}`)
    let action: TablePlan['action'] = 'copy'
    if (checkpoint?.done) {
      if (checkpoint.copied === sourceRows) action = 'skip'
      else if (options.resume) action = 'resume'
      else {
        problems.push(
          invalid(
            `An earlier run of this migration finished ${table.name} with ${checkpoint.copied} rows, but the source now has ${sourceRows}: rerun with resume to copy the rows added after its last key`,
          ),
        )
      }
    } else if (checkpoint) {
      if (options.resume) action = 'resume'
      else {
        problems.push(
          invalid(
            `An earlier run of this migration stopped in ${table.name} after ${checkpoint.copied} of ${sourceRows} rows: rerun with resume (engram migrate --resume) to finish it`,
          ),
        )
      }
    } else if (found && target && options.onConflict === 'error') {
      const rows = await countRows(target, name)
      if (rows > 0) {
        problems.push(
          invalid(
            `The target's ${name} already holds ${rows} rows. Migrate into empty tables, or choose onConflict 'skip' (keep the target's rows) or 'replace' (overwrite rows with the same key)`,
          ),
        )
      }
    }
    tables.push({
      source: table,
      targetName: name,
      targetColumns,
      targetKinds,
      create,
      afterLoad,
      sourceRows,
      checkpoint,
      action,
    })
  }
  if (options.scan) {
    for (const plan of tables) {
      if (plan.action !== 'skip')
        problems.push(...(await options.scan(plan.source, plan.targetKinds)).map(unsupported))
    }
  }
  return { tables, problems, notes }
}

/** The statements an earlier run recorded to run after a table's rows, if it stopped before running them. */
function pendingAfterLoad(checkpoint: Checkpoint | undefined): readonly string[] {
  if (checkpoint === undefined || checkpoint.done || checkpoint.lastKey === null) return []
  return checkpoint.lastKey.filter((s): s is string => typeof s === 'string')
}

function unsupported(message: string): Problem {
  return { code: 'UNSUPPORTED', message }
}

function invalid(message: string): Problem {
  return { code: 'INVALID_ARGUMENT', message }
}
