import { type SqlDialect, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import type { CheckpointStore } from './checkpoint-store.js'
import { convertValue, ValueMismatch } from './column-type.js'
import type { TableSchema } from './export-format.js'
import type { TablePlan } from './plan-tables.js'
import { readSchema } from './read-schema.js'
import { quoteName } from './sql-names.js'
import { type ConflictPolicy, createTableWriter } from './table-writer.js'

/** Where a batch ends: the paging key of its last row (if the source has one) and the rows done so far. */
export interface BatchEnd {
  readonly lastKey: SqlValue[] | null
  readonly copied: number
}

/** The rows of one batch: values, and the same rows as JSON array texts when they were read that way. */
export interface Batch {
  readonly rows: readonly SqlValue[][]
  readonly json?: readonly string[] | undefined
}

/** A batch on its way: when its checkpoint statement has run, and when it committed. */
export interface BatchWrite {
  /** Settles once the batch's checkpoint statement has run (or the batch failed before it). */
  readonly checkpointed: Promise<void>
  /** The rows inserted or replaced, once the transaction committed. */
  readonly committed: Promise<number>
}

/** Where a batch sits in the table's sequence of batches. */
export interface BatchOrder {
  /** Rows done before this batch (the checkpoint it moves from). */
  readonly from: number
  /** The previous batch's `checkpointed`; this batch's checkpoint statement waits for it. */
  readonly after: Promise<void>
}

/** One table in the target, ready to take batches. */
export interface TableTarget {
  /** The target table as its catalog has it. */
  readonly schema: TableSchema
  /**
   * Converts and writes a batch with its checkpoint in one transaction. Several may be in flight
   * at once on a pooled target: their checkpoints commit them in order (see `CheckpointStore.advance`).
   */
  writeBatch(batch: Batch, end: BatchEnd, order: BatchOrder): BatchWrite
  /** Moves identity sequences past the copied values and marks the table done. */
  finish(end: BatchEnd): Promise<void>
}

/** Options for `openTableTarget`. */
export interface OpenTableTargetOptions {
  readonly target: StorageAdapter
  readonly plan: TablePlan
  readonly sourceDialect: SqlDialect
  readonly checkpoints: CheckpointStore
  /** The checkpoint item, such as `'table:engram_traces'`. */
  readonly item: string
  readonly onConflict: ConflictPolicy
}

/**
 * Prepares one table of the target: creates it when the plan says so (in one transaction with
 * its first checkpoint and the statements to run after its rows, so a crash never leaves a
 * table the next run does not know it made), reads its columns back from the catalog, and
 * returns a writer whose every batch commits together with the checkpoint naming the batch's
 * end. `finish` builds the indexes and foreign keys in the same transaction that marks it done.
 */
export async function openTableTarget(options: OpenTableTargetOptions): Promise<TableTarget> {
  const { target, plan, checkpoints, item } = options
  const start = {
    item,
    lastKey: plan.checkpoint?.lastKey ?? null,
    copied: plan.checkpoint?.copied ?? 0,
    done: false,
  }
  // What runs after the rows is recorded with the table, so a run that stops before it still runs it on resume.
  const afterLoad = {
    item: `after-load:${plan.source.name}`,
    lastKey: [...plan.afterLoad],
    copied: 0,
    done: false,
  }
  await target.transaction(async (tx) => {
    for (const statement of plan.create) await tx.exec(statement)
    await checkpoints.save(tx, start)
    if (plan.afterLoad.length > 0) await checkpoints.save(tx, afterLoad)
  })
  const [schema] = (await readSchema(target, { tables: [plan.targetName] })).tables
  if (schema === undefined) throw new StorageError('NOT_FOUND', `The target has no table ${plan.targetName}`)
  const columns = plan.targetColumns.map((name) => {
    const column = schema.columns.find((c) => c.name === name)
    if (column === undefined) {
      throw new StorageError('NOT_FOUND', `The target's ${plan.targetName} has no column ${name}`)
    }
    return column
  })
  const writer = createTableWriter({
    dialect: target.dialect,
    table: plan.targetName,
    columns,
    primaryKey: schema.primaryKey,
    onConflict: options.onConflict,
    overridingSystemValue: columns.some((c) => c.identity === 'always'),
  })
  const convert = options.sourceDialect === target.dialect ? undefined : rowConverter(plan, target.dialect)
  const jsonSafe = options.sourceDialect === 'sqlite' && target.dialect === 'postgres' && refusesMisfits(plan)
  return {
    schema,
    writeBatch(batch, end, order) {
      let checkpointed = (): void => undefined
      const ran = new Promise<void>((resolve) => {
        checkpointed = resolve
      })
      // Rows read from SQLite as JSON go to Postgres as they are; Postgres's own input functions
      // then refuse what a column cannot hold, where the converter would have.
      const json = batch.json !== undefined && jsonSafe ? writer.writeJson : undefined
      const committed = (async () => {
        try {
          const values = json ? undefined : convert ? batch.rows.map(convert) : batch.rows
          return await target.transaction(async (tx) => {
            const changes = values
              ? await writer.write(tx, values)
              : await (json as NonNullable<typeof json>)(tx, batch.json as readonly string[]).catch(
                  (error: unknown) => {
                    // Name the row and column when a value is what Postgres refused; its own message otherwise.
                    if (convert) batch.rows.forEach(convert)
                    throw error
                  },
                )
            await order.after
            await checkpoints.advance(tx, item, order.from, end)
            checkpointed()
            return changes
          })
        } finally {
          checkpointed()
        }
      })()
      return { checkpointed: ran, committed }
    },
    async finish(end) {
      await target.transaction(async (tx) => {
        for (const statement of plan.afterLoad) await tx.exec(statement)
        if (target.dialect === 'postgres') await resetIdentities(tx, plan.targetName, schema)
        await checkpoints.save(tx, { item, lastKey: end.lastKey, copied: end.copied, done: true })
        if (plan.afterLoad.length > 0) await checkpoints.save(tx, { ...afterLoad, done: true })
      })
    },
  }
}

/**
 * Whether Postgres's input functions refuse every value the converter would: true for integer,
 * real, numeric and JSON columns, and for text columns fed from SQLite text columns (whose
 * affinity never stores a number). A number in a SQLite DATETIME column would pass into
 * Postgres text unnoticed, and 'yes' into a boolean, so such tables take the converter.
 */
function refusesMisfits(plan: TablePlan): boolean {
  return plan.targetKinds.every((kind, i) => {
    if (kind === 'integer' || kind === 'real' || kind === 'numeric' || kind === 'json') return true
    if (kind === 'text' || kind === 'timestamp')
      return /CHAR|CLOB|TEXT/i.test(plan.source.columns[i]?.type ?? '')
    return false
  })
}

/** Moves each identity column's sequence past the largest value copied, so the next insert does not collide. */
async function resetIdentities(tx: StorageAdapter, table: string, schema: TableSchema): Promise<void> {
  for (const column of schema.columns) {
    if (!column.identity) continue
    await tx.run(
      `SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(${quoteName(column.name)}) FROM ${quoteName(table)}), 0) + 1, false)`,
      [quoteName(table), column.name],
    )
  }
}

function rowConverter(plan: TablePlan, to: SqlDialect): (row: readonly SqlValue[]) => SqlValue[] {
  const kinds = plan.targetKinds
  const names = plan.source.columns.map((c) => c.name)
  const key = plan.source.primaryKey.map((k) => names.indexOf(k))
  return (row) => {
    const out = new Array<SqlValue>(row.length)
    for (let i = 0; i < row.length; i++) {
      const value = convertValue(row[i] as SqlValue, kinds[i] ?? 'any', to)
      if (value instanceof ValueMismatch) {
        const table = plan.source.name
        const column = names[i]
        const where =
          key.length > 0 && key.every((k) => k >= 0)
            ? ` (the row ${key.map((k) => `${names[k]} = ${JSON.stringify(String(row[k]))}`).join(', ')})`
            : ''
        throw new StorageError(
          'UNSUPPORTED',
          `${table}.${column}${where} ${value.problem}. The rows before it are copied; fix the row, or choose the column's type with columnTypes { '${table}.${column}': '<type>' }, then run again with resume (a dry run finds every such row first)`,
        )
      }
      out[i] = value
    }
    return out
  }
}
