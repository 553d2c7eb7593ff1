import { StorageError } from '@engram/core'
import { checkParity, type Mismatch, type TableParity } from './check-parity.js'
import { compareCollection } from './compare-collection.js'
import type { ProgressDetail } from './migrate.js'
import {
  type MigrationEndpoint,
  type OpenedEndpoint,
  openEndpoint,
  type VectorStoreOpener,
} from './open-endpoint.js'
import { hasVectorEngine } from './read-schema.js'

/** Options for `verifyMigration`. */
export interface VerifyOptions {
  /** The first side (a migration's source), in any form `migrate` accepts. */
  from: MigrationEndpoint
  /** The second side (its target). */
  to: MigrationEndpoint
  /** Tables to compare. Default is every table of `from` (none when only `collections` is given). */
  tables?: readonly string[]
  /** Collections to compare. Default is every collection of `from` (none when only `tables` is given). */
  collections?: readonly string[]
  /** Rows or records read per page. Default is `5000`. */
  batchSize?: number
  /** Called as rows are compared. */
  onProgress?: (done: number, total: number, name: string, detail: ProgressDetail) => void
  /** Opens the vector store of a SQL side given without one (as in `migrate`). */
  vectorStore?: VectorStoreOpener
}

/** What `verifyMigration` found. */
export interface VerifyResult {
  /** Whether everything compared is equal. */
  readonly verified: boolean
  /** Each table compared. */
  readonly tables: TableParity[]
  /** Each collection compared, with its record count in `from`. */
  readonly collections: Array<{ name: string; records: number; equal: boolean }>
  /** What differs. */
  readonly mismatches: Mismatch[]
  /** Wall time, in milliseconds. */
  readonly durationMs: number
}

/**
 * Compares two backends without changing either: every table's row count and checksum (as
 * `checkParity` does) and every collection record by record, vectors bit for bit. It is the
 * check `migrate({ verify: true })` runs, for use on its own (`engram verify <a> <b>`).
 */
export async function verifyMigration(options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now()
  const batchSize = options.batchSize ?? 5000
  const open = (endpoint: MigrationEndpoint) =>
    openEndpoint(endpoint, {
      role: 'source',
      ...(options.vectorStore ? { vectorStore: options.vectorStore } : {}),
    })
  const a = await open(options.from)
  let b: OpenedEndpoint | undefined
  try {
    b = await open(options.to)
    const wantTables = options.tables !== undefined || options.collections === undefined
    const wantCollections = options.collections !== undefined || options.tables === undefined
    const mismatches: Mismatch[] = []
    let tables: TableParity[] = []
    if (wantTables && a.storage) {
      if (!b.storage)
        throw new StorageError(
          'INVALID_ARGUMENT',
          'The second side has no SQL database to compare tables with',
        )
      const report = await checkParity(a.storage, b.storage, {
        ...(options.tables ? { tables: options.tables } : {}),
        batchSize,
        onProgress: (done, total, name) =>
          options.onProgress?.(done, total, name, { kind: 'table', phase: 'verify' }),
      })
      tables = report.tables
      mismatches.push(...report.mismatches)
    }
    const collections: VerifyResult['collections'] = []
    if (wantCollections && (a.givenVectors || (a.storage && (await hasVectorEngine(a.storage))))) {
      const storeA = await a.vectors()
      const storeB = await b.vectors()
      if (storeA && storeB) {
        for (const name of options.collections ?? (await storeA.listCollections())) {
          const records = (await storeA.describeCollection(name))?.count ?? 0
          const mismatch = await compareCollection(storeA, storeB, name, batchSize, (done) =>
            options.onProgress?.(done, records, name, { kind: 'collection', phase: 'verify' }),
          )
          collections.push({ name, records, equal: mismatch === undefined })
          if (mismatch) mismatches.push(mismatch)
        }
      }
    }
    return {
      verified: mismatches.length === 0,
      tables,
      collections,
      mismatches,
      durationMs: performance.now() - started,
    }
  } finally {
    await b?.close()
    await a.close()
  }
}
