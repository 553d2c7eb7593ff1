import type { StorageAdapter, VectorStore } from '@engram/core'
import { checksum, compareTable, describeMismatch, type Mismatch, type TableParity } from './check-parity.js'
import { compareCollection } from './compare-collection.js'
import type { ProgressDetail } from './migrate.js'
import type { OpenedEndpoint } from './open-endpoint.js'
import type { CollectionPlan } from './plan-collections.js'
import type { TablePlan } from './plan-tables.js'
import { readSchema } from './read-schema.js'
import type { TableChecksum } from './table-checksum.js'

/** A source table's checksum computed while copying it, with the columns compared as JSON. */
export interface SourceSum {
  readonly sum: TableChecksum
  readonly json: readonly boolean[]
}

/** What `verifyCopy` compares. */
export interface VerifyCopyOptions {
  readonly source: StorageAdapter | undefined
  readonly target: StorageAdapter | undefined
  readonly tables: readonly TablePlan[]
  readonly collections: readonly CollectionPlan[]
  readonly sourceStore: VectorStore | undefined
  readonly targetStore: VectorStore | undefined
  /** Source checksums from the copy that still hold (see `unchangedSince`); other tables are read again. */
  readonly sourceSums: ReadonlyMap<string, SourceSum>
  readonly batchSize: number
  readonly onProgress: (done: number, total: number, name: string, detail: ProgressDetail) => void
}

/**
 * Verification after a migration: every table's row count and checksum on both sides (the
 * source side from the copy when it cannot have changed since, read again otherwise) and every
 * collection record by record.
 */
export async function verifyCopy(options: VerifyCopyOptions): Promise<Mismatch[]> {
  const { source, target } = options
  const mismatches: Mismatch[] = []
  const batchSize = Math.max(options.batchSize, 5000)
  for (const plan of options.tables) {
    if (source === undefined || target === undefined) break
    const [other] = (await readSchema(target, { tables: [plan.targetName] })).tables
    const onProgress = (done: number, total: number, name: string) =>
      options.onProgress(done, total, name, { kind: 'table', phase: 'verify' })
    const known = options.sourceSums.get(plan.source.name)
    const parity = known
      ? await compareWithSum(plan, known, target, other, batchSize, onProgress)
      : await compareTable(source, plan.source, target, other, {
          batchSize,
          expectedRows: plan.sourceRows,
          onProgress,
        })
    const mismatch = describeMismatch(parity, other === undefined, ['the source', 'the target'])
    if (mismatch) mismatches.push(mismatch)
  }
  if (options.sourceStore && options.targetStore) {
    for (const plan of options.collections) {
      const { name, count } = plan.info
      const mismatch = await compareCollection(
        options.sourceStore,
        options.targetStore,
        name,
        options.batchSize,
        (done) => options.onProgress(done, count, name, { kind: 'collection', phase: 'verify' }),
      )
      if (mismatch) mismatches.push(mismatch)
    }
  }
  return mismatches
}

/**
 * For a SQLite source this migration opened itself (so nothing else writes through its
 * connection), a check that no other connection has committed to it since this call:
 * SQLite's `data_version` changes exactly then. `undefined` when that cannot be known.
 */
export async function unchangedSince(source: OpenedEndpoint): Promise<(() => Promise<boolean>) | undefined> {
  const db = source.storage
  if (db === undefined || !source.ownsStorage || db.dialect !== 'sqlite') return undefined
  const version = async () => (await db.get<{ data_version: number }>('PRAGMA data_version'))?.data_version
  const before = await version()
  if (before === undefined) return undefined
  return async () => (await version()) === before
}

/** Compares a target table with the source checksum computed while copying it. */
async function compareWithSum(
  plan: TablePlan,
  known: SourceSum,
  target: StorageAdapter,
  other: Parameters<typeof compareTable>[3],
  batchSize: number,
  onProgress: (done: number, total: number, name: string) => void,
): Promise<TableParity> {
  const name = plan.source.name
  const { sum: sourceSum, json } = known
  if (other === undefined) {
    return { name, rowsA: sourceSum.rows, rowsB: -1, checksumA: sourceSum.hex, checksumB: '', equal: false }
  }
  onProgress(0, sourceSum.rows, name)
  let done = 0
  const sum = await checksum(target, other, plan.targetColumns, json, batchSize, (n) => {
    done += n
    onProgress(done, Math.max(done, sourceSum.rows), name)
  })
  return {
    name,
    rowsA: sourceSum.rows,
    rowsB: sum.rows,
    checksumA: sourceSum.hex,
    checksumB: sum.hex,
    equal: sum.rows === sourceSum.rows && sum.hex === sourceSum.hex,
  }
}
