import type { StorageAdapter } from '@engram/core'
import type { CheckpointStore } from './checkpoint-store.js'
import type { TablePlan } from './plan-tables.js'
import { readPages } from './table-reader.js'
import { openTableTarget } from './table-target.js'
import type { ConflictPolicy } from './table-writer.js'

/** What copying one table did. */
export interface TableCopy {
  /** Rows this run inserted or replaced. */
  readonly written: number
  /** Source rows this run read (rows skipped by `onConflict: 'skip'` included). */
  readonly read: number
}

/** Options for `copyTable`. */
export interface CopyTableOptions {
  readonly source: StorageAdapter
  readonly target: StorageAdapter
  readonly plan: TablePlan
  readonly checkpoints: CheckpointStore
  readonly batchSize: number
  readonly onConflict: ConflictPolicy
  /** Called after each batch with the source rows done so far (earlier runs included). */
  readonly onProgress: (done: number) => void
}

/**
 * Copies one table database to database: reads the source page by page in key order and
 * writes each page in its own target transaction together with the checkpoint naming its last
 * key. A run that dies at any point leaves the target holding exactly the rows up to the
 * checkpoint, so the next run continues after it with no duplicates and no gaps. Reading the
 * next page overlaps writing the current one.
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
  let copied = plan.checkpoint?.copied ?? 0
  let lastKey = plan.checkpoint?.lastKey ?? null
  let written = 0
  let read = 0
  const pages = readPages(source, plan.source, { after: lastKey, batchSize: options.batchSize })
  let next = pages.next()
  for (;;) {
    const page = await next
    if (page.done) break
    const end = { lastKey: page.value.key, copied: copied + page.value.rows.length }
    const writing = table.writeBatch(page.value.rows, end)
    next = pages.next()
    // The next page is being read; its failure is seen when it is awaited, even if the write fails first.
    next.catch(() => undefined)
    written += await writing
    read += page.value.rows.length
    copied = end.copied
    lastKey = end.lastKey
    options.onProgress(copied)
  }
  await table.finish({ lastKey, copied })
  return { written, read }
}
