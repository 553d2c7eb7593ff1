import type { StorageAdapter } from '@engram/core'
import type { CheckpointStore } from './checkpoint-store.js'
import { columnKind } from './column-type.js'
import type { TablePlan } from './plan-tables.js'
import { TableChecksum } from './table-checksum.js'
import { readPages } from './table-reader.js'
import { type BatchEnd, type BatchWrite, openTableTarget } from './table-target.js'
import type { ConflictPolicy } from './table-writer.js'

/** What copying one table did. */
export interface TableCopy {
  /** Rows this run inserted or replaced. */
  readonly written: number
  /** Source rows this run read (rows skipped by `onConflict: 'skip'` included). */
  readonly read: number
  /** The checksum of every source row, when this run read the whole table (it did not resume). */
  readonly sourceChecksum: TableChecksum | undefined
  /** Which columns verification compares as JSON. */
  readonly json: readonly boolean[]
}

/** Options for `copyTable`. */
export interface CopyTableOptions {
  readonly source: StorageAdapter
  readonly target: StorageAdapter
  readonly plan: TablePlan
  readonly checkpoints: CheckpointStore
  readonly batchSize: number
  readonly onConflict: ConflictPolicy
  /** Checksum the source rows as they are read, for verification afterwards. */
  readonly checksum: boolean
  /** Called after each batch with the source rows done so far (earlier runs included). */
  readonly onProgress: (done: number) => void
}

/** Batch transactions a pooled target has in flight at once; measured best on two cores, where waiting for each commit's WAL flush dominates. */
const POOLED_DEPTH = 3

/**
 * Copies one table database to database: reads the source page by page in key order and writes
 * each page in its own target transaction together with the checkpoint naming its last key. A
 * run that dies at any point leaves the target holding exactly the rows up to the checkpoint,
 * so the next run continues after it with no duplicates and no gaps. On a pooled target
 * (Postgres) a few batches are in flight at once while the next page is read; their
 * checkpoints still commit them in order.
 */
export async function copyTable(options: CopyTableOptions): Promise<TableCopy> {
  const { source, target, plan } = options
  const table = await openTableTarget({
    target,
    plan,
    sourceDialect: source.dialect,
    checkpoints: options.checkpoints,
    item: `table:${plan.source.name}`,
    onConflict: options.onConflict,
  })
  const json = plan.source.columns.map(
    (column, i) =>
      columnKind(source.dialect, column.type) === 'json' ||
      columnKind(
        target.dialect,
        table.schema.columns.find((c) => c.name === plan.targetColumns[i])?.type ?? '',
      ) === 'json',
  )
  const fromStart = (plan.checkpoint?.copied ?? 0) === 0 && (plan.checkpoint?.lastKey ?? null) === null
  const sum = options.checksum && fromStart ? new TableChecksum() : undefined
  const depth = target.capabilities.concurrency === 'pool' ? POOLED_DEPTH : 1
  let end: BatchEnd = { lastKey: plan.checkpoint?.lastKey ?? null, copied: plan.checkpoint?.copied ?? 0 }
  let after: Promise<void> = Promise.resolve()
  let written = 0
  let read = 0
  const inFlight: Array<{ write: BatchWrite; end: BatchEnd }> = []
  const settleOldest = async () => {
    const oldest = inFlight.shift()
    if (oldest === undefined) return
    written += await oldest.write.committed
    options.onProgress(oldest.end.copied)
  }
  const pages = readPages(source, plan.source, { after: end.lastKey, batchSize: options.batchSize })
  try {
    let next = pages.next()
    for (;;) {
      const page = await next
      if (page.done) break
      // Rows read as JSON are only parsed when something needs their values (the checksum, a conversion).
      const count = page.value.json?.length ?? page.value.rows.length
      if (sum) for (const row of page.value.rows) sum.add(row, json)
      const batchEnd = { lastKey: page.value.key, copied: end.copied + count }
      const write = table.writeBatch(page.value, batchEnd, { from: end.copied, after })
      // Observed here so a failure is never unhandled; it is rethrown where the batch is awaited.
      write.committed.catch(() => undefined)
      inFlight.push({ write, end: batchEnd })
      after = write.checkpointed
      end = batchEnd
      read += count
      next = pages.next()
      next.catch(() => undefined)
      while (inFlight.length >= depth) await settleOldest()
    }
    while (inFlight.length > 0) await settleOldest()
  } catch (error) {
    // Let every batch still in flight finish (or fail) before reporting, so none outlives the call.
    await Promise.allSettled(inFlight.map((b) => b.write.committed))
    throw error
  }
  await table.finish(end)
  return { written, read, sourceChecksum: sum, json }
}
