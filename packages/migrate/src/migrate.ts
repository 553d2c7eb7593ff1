import {
  booleanOption,
  type SqlDialect,
  type StorageAdapter,
  StorageError,
  type VectorStore,
} from '@engram/core'
import type { Mismatch } from './check-parity.js'
import { type Checkpoint, CheckpointStore } from './checkpoint-store.js'
import type { ColumnKind } from './column-type.js'
import { copyCollection } from './copy-collection.js'
import { copyTable } from './copy-table.js'
import type { TableSchema } from './export-format.js'
import {
  type MigrationEndpoint,
  type OpenedEndpoint,
  openEndpoint,
  type VectorStoreOpener,
} from './open-endpoint.js'
import { type CollectionPlan, inspectTargetCollections, planCollections } from './plan-collections.js'
import { planTables, type TablePlan } from './plan-tables.js'
import { type Problem, problemsError } from './problem.js'
import { hasVectorEngine, readSchema } from './read-schema.js'
import { scanValues } from './scan-values.js'
import type { ColumnTypes } from './table-ddl.js'
import { countRows } from './table-reader.js'
import { type ConflictPolicy, DEFAULT_BATCH } from './table-writer.js'
import { type SourceSum, unchangedSince, verifyCopy } from './verify-copy.js'

/** Where a migration is, for `onProgress`. */
export interface ProgressDetail {
  /** A SQL table or a vector collection. */
  readonly kind: 'table' | 'collection'
  /** Copying, or verifying after the copy. */
  readonly phase: 'copy' | 'verify'
}

/** Options for `migrate`. */
export interface MigrateOptions {
  /** The source: a path or URL (as `createDatabase` takes), `createDatabase` options, `{ type: 'sqlite', path }`, an adapter, a `VectorStore`, or `{ storage, vectors }` (a `Memory`). */
  from: MigrationEndpoint
  /** The target, in any of the same forms. */
  to: MigrationEndpoint
  /** SQL tables to copy. Default is every table except the vector engines' (and none when only `collections` is given). */
  tables?: readonly string[]
  /** Vector collections to copy. Default is every collection (and none when only `tables` is given). */
  collections?: readonly string[]
  /** Rows (or records) per batch and per target transaction. Default is `5000`. */
  batchSize?: number
  /** Called after each batch: rows done and the total of the table or collection, its name, and the phase. */
  onProgress?: (done: number, total: number, name: string, detail: ProgressDetail) => void
  /** Count, plan and check compatibility without writing anything, or even creating the target file. Default is `false`. */
  dryRun?: boolean
  /** Continue a migration that stopped (the target's checkpoints say where). Default is `false`: a stopped migration is reported instead. */
  resume?: boolean
  /** Compare row counts and checksums of every table, and every vector bit for bit, after copying. Default is `false`. */
  verify?: boolean
  /** A row or record whose key the target already has: `'error'` (stop before writing anything), `'skip'` (keep the target's) or `'replace'`. Default is `'error'`. */
  onConflict?: ConflictPolicy
  /** Target column types that replace the translation, keyed `'table.column'`, such as `{ 'events.at': 'BIGINT' }`. */
  columnTypes?: ColumnTypes
  /** The name this migration's checkpoints carry in the target. Default is derived from the source (its file, or its server, database and schema). */
  migrationId?: string
  /** Opens the vector store of a SQL endpoint given without one. Default is `@engram/sqlite-vector` on SQLite and `@engram/postgres`'s pgvector store on Postgres. */
  vectorStore?: VectorStoreOpener
}

/** What happened to one table or collection. */
export interface ItemReport {
  /** Its name in the source. */
  readonly name: string
  /** Rows or records in the source. */
  readonly sourceRows: number
  /** Rows or records this run wrote. */
  readonly copied: number
  /** `'copied'`, `'resumed'` (continued after a checkpoint), `'already-done'` (an earlier run finished it) or `'planned'` (dry run). */
  readonly status: 'copied' | 'resumed' | 'already-done' | 'planned'
}

/** What `migrate` did. */
export interface MigrationResult {
  /** Each SQL table. */
  readonly tables: ItemReport[]
  /** Each vector collection. */
  readonly collections: ItemReport[]
  /** Rows this run wrote, over all tables (in a dry run, the rows it would copy). */
  readonly rows: number
  /** The same as `rows`, under the name older migration tools used. */
  readonly totalRows: number
  /** Vectors this run wrote (in a dry run, the vectors it would copy). */
  readonly vectors: number
  /** Wall time of the whole call, in milliseconds. */
  readonly durationMs: number
  /** Whether this was a dry run. */
  readonly dryRun: boolean
  /** `true` when `verify` ran and found nothing different. */
  readonly verified: boolean
  /** What verification found different. */
  readonly mismatches: Mismatch[]
  /** Dry run: what would stop the migration (a real run throws them instead). */
  readonly problems: string[]
  /** What the target does not get although no data is lost (constraints not translated, for example). */
  readonly notes: string[]
}

interface Settings {
  tables: readonly string[] | undefined
  collections: readonly string[] | undefined
  batchSize: number
  dryRun: boolean
  resume: boolean
  verify: boolean
  onConflict: ConflictPolicy
  columnTypes: ColumnTypes
  onProgress: NonNullable<MigrateOptions['onProgress']>
}

/**
 * Moves data between any two backends: SQL tables (the whole engram memory schema or the
 * tables you name) between databases of either dialect, and vector collections between any two
 * `VectorStore`s. Everything is planned and checked before the first write; each batch commits
 * with a checkpoint in the target, so a killed run finishes with `resume` and a finished one
 * adds nothing when run again.
 *
 * @example
 * const result = await migrate({ from: './data/memory.db', to: process.env.DATABASE_URL, verify: true })
 * if (!result.verified) console.error(result.mismatches)
 */
export async function migrate(options: MigrateOptions): Promise<MigrationResult> {
  const settings = checkOptions(options)
  const started = performance.now()
  const vectorStore = options.vectorStore
  const source = await openEndpoint(options.from, { role: 'source', ...(vectorStore ? { vectorStore } : {}) })
  let target: OpenedEndpoint | undefined
  try {
    target = await openEndpoint(options.to, {
      role: 'target',
      dryRun: settings.dryRun,
      ...(vectorStore ? { vectorStore } : {}),
    })
    const job = options.migrationId ?? (await migrationName(source))
    return await run(source, target, job, settings, started)
  } finally {
    await target?.close()
    await source.close()
  }
}

/** The same `migrate`, under the name older migration tools exported it as. */
export const MigrationEngine = { migrate } as const

async function run(
  source: OpenedEndpoint,
  target: OpenedEndpoint,
  job: string,
  settings: Settings,
  started: number,
): Promise<MigrationResult> {
  const wantTables = settings.tables !== undefined || settings.collections === undefined
  const wantCollections = settings.collections !== undefined || settings.tables === undefined
  const targetDialect: SqlDialect | undefined =
    target.storage?.dialect ?? (target.missingFile ? 'sqlite' : undefined)
  const checkpointStore = target.storage ? new CheckpointStore(target.storage, job) : undefined
  const checkpoints = checkpointStore ? await checkpointStore.load() : new Map<string, Checkpoint>()
  const problems: Problem[] = []
  const notes: string[] = []

  let tables: TablePlan[] = []
  if (wantTables && source.storage) {
    const schema = await readSchema(source.storage, settings.tables ? { tables: settings.tables } : {})
    if (targetDialect === undefined) {
      if (settings.tables !== undefined) {
        problems.push({
          code: 'INVALID_ARGUMENT',
          message: 'The target has no SQL database, so it cannot take tables',
        })
      } else if (schema.tables.length > 0) {
        notes.push(`${schema.tables.length} tables stay where they are: the target is a vector store only`)
      }
    } else {
      const targetSchema = target.storage ? await readSchema(target.storage) : undefined
      const db = source.storage
      const planned = await planTables(schema, target.storage, targetSchema, targetDialect, {
        onConflict: settings.onConflict,
        resume: settings.resume,
        columnTypes: settings.columnTypes,
        checkpoints,
        count: (table) => countRows(db, table.name),
        // A dry run reads every value for what its Postgres column could not hold; a real run
        // finds the same misfit when it reaches the row (the scan is a second full read).
        ...(settings.dryRun && db.dialect === 'sqlite' && targetDialect === 'postgres'
          ? { scan: (table: TableSchema, kinds: readonly ColumnKind[]) => scanValues(db, table, kinds) }
          : {}),
      })
      tables = planned.tables
      problems.push(...planned.problems)
      notes.push(...planned.notes)
    }
  } else if (settings.tables !== undefined && settings.tables.length > 0) {
    problems.push({
      code: 'INVALID_ARGUMENT',
      message: 'The source is a vector store only; it has no tables',
    })
  }

  let collections: CollectionPlan[] = []
  let sourceStore: VectorStore | undefined
  let targetStore: VectorStore | undefined
  if (wantCollections) {
    const withVectors =
      source.givenVectors || (source.storage !== undefined && (await hasVectorEngine(source.storage)))
    if (withVectors) {
      sourceStore = await source.vectors()
      targetStore = target.givenVectors || target.storage ? await target.vectors() : undefined
      if (sourceStore) {
        const planned = await planCollections(sourceStore, targetStore, {
          names: settings.collections,
          checkpoints,
          resume: settings.resume,
        })
        collections = planned.collections
        problems.push(...planned.problems)
        notes.push(...planned.notes)
        if (collections.length > 0 && targetStore === undefined && target.missingFile === undefined) {
          problems.push({
            code: 'INVALID_ARGUMENT',
            message:
              'The source has vector collections but the target has no vector store: pass { storage, vectors }',
          })
        }
      }
    } else if (settings.collections !== undefined && settings.collections.length > 0) {
      problems.push({ code: 'NOT_FOUND', message: 'The source has no vector collections' })
    }
  }

  if (settings.dryRun) {
    const rows = tables
      .filter((t) => t.action !== 'skip')
      .reduce((n, t) => n + t.sourceRows - (t.checkpoint?.copied ?? 0), 0)
    const vectors = collections.filter((c) => c.action !== 'skip').reduce((n, c) => n + c.info.count, 0)
    return {
      tables: tables.map((t) =>
        report(t.source.name, t.sourceRows, 0, t.action === 'skip' ? 'already-done' : 'planned'),
      ),
      collections: collections.map((c) =>
        report(c.info.name, c.info.count, 0, c.action === 'skip' ? 'already-done' : 'planned'),
      ),
      rows,
      totalRows: rows,
      vectors,
      durationMs: performance.now() - started,
      dryRun: true,
      verified: false,
      mismatches: [],
      problems: problems.map((p) => p.message),
      notes,
    }
  }
  if (problems.length > 0) throw problemsError(problems)
  if (targetStore && collections.length > 0) {
    const inspected = await inspectTargetCollections(targetStore, collections, settings.onConflict)
    if (inspected.problems.length > 0) throw problemsError(inspected.problems)
    collections = inspected.collections
  }

  if (checkpointStore) await checkpointStore.ensure()
  // Whether the copy's source checksums still hold at verification: nothing else can have written to the source.
  const sourceVersion = await unchangedSince(source)
  const sourceSums = new Map<string, SourceSum>()
  const tableReports: ItemReport[] = []
  let rows = 0
  for (const plan of tables) {
    const name = plan.source.name
    const progress = (done: number) =>
      settings.onProgress(done, Math.max(plan.sourceRows, done), name, { kind: 'table', phase: 'copy' })
    if (plan.action === 'skip') {
      progress(plan.sourceRows)
      tableReports.push(report(name, plan.sourceRows, 0, 'already-done'))
      continue
    }
    progress(plan.checkpoint?.copied ?? 0)
    const copy = await copyTable({
      source: source.storage as StorageAdapter,
      target: target.storage as StorageAdapter,
      plan,
      checkpoints: checkpointStore as CheckpointStore,
      batchSize: settings.batchSize,
      onConflict: settings.onConflict,
      checksum: settings.verify && sourceVersion !== undefined,
      onProgress: progress,
    })
    rows += copy.written
    if (copy.sourceChecksum) sourceSums.set(name, { sum: copy.sourceChecksum, json: copy.json })
    tableReports.push(
      report(name, plan.sourceRows, copy.written, plan.action === 'resume' ? 'resumed' : 'copied'),
    )
  }
  const collectionReports: ItemReport[] = []
  let vectors = 0
  for (const plan of collections) {
    const name = plan.info.name
    const total = plan.info.count
    const progress = (done: number) =>
      settings.onProgress(done, Math.max(total, done), name, { kind: 'collection', phase: 'copy' })
    if (plan.action === 'skip') {
      progress(total)
      collectionReports.push(report(name, total, 0, 'already-done'))
      continue
    }
    progress(0)
    const copy = await copyCollection({
      source: sourceStore as VectorStore,
      target: targetStore as VectorStore,
      info: plan.info,
      checkpoints:
        checkpointStore && target.storage ? { store: checkpointStore, db: target.storage } : undefined,
      checkpoint: plan.checkpoint,
      targetHadRecords: plan.targetHadRecords,
      onConflict: settings.onConflict,
      batchSize: settings.batchSize,
      onProgress: progress,
    })
    vectors += copy.written
    collectionReports.push(report(name, total, copy.written, plan.action === 'resume' ? 'resumed' : 'copied'))
  }

  const mismatches: Mismatch[] = settings.verify
    ? await verifyCopy({
        source: source.storage,
        target: target.storage,
        tables,
        collections,
        sourceStore,
        targetStore,
        sourceSums: (await sourceVersion?.()) ? sourceSums : new Map(),
        batchSize: settings.batchSize,
        onProgress: settings.onProgress,
      })
    : []
  return {
    tables: tableReports,
    collections: collectionReports,
    rows,
    totalRows: rows,
    vectors,
    durationMs: performance.now() - started,
    dryRun: false,
    verified: settings.verify && mismatches.length === 0,
    mismatches,
    problems: [],
    notes,
  }
}

function report(name: string, sourceRows: number, copied: number, status: ItemReport['status']): ItemReport {
  return { name, sourceRows, copied, status }
}

/** A name for the migration derived from where its source is: the SQLite file, or the Postgres server, database and schema. */
async function migrationName(source: OpenedEndpoint): Promise<string> {
  const db = source.storage
  if (db === undefined) return `vectors:${(await source.vectors())?.kind ?? source.label}`
  if (db.dialect === 'sqlite') {
    const row = await db.get<{ file: string | null }>(
      `SELECT file FROM pragma_database_list WHERE name = 'main'`,
    )
    return `sqlite:${row?.file || ':memory:'}`
  }
  const row = await db.get<{ db: string; schema: string; host: string | null; port: number | null }>(
    'SELECT current_database() AS db, current_schema() AS schema, inet_server_addr()::text AS host, inet_server_port() AS port',
  )
  return `postgres://${row?.host ?? 'local'}:${row?.port ?? ''}/${row?.db}?schema=${row?.schema}`
}

function checkOptions(options: MigrateOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new StorageError('INVALID_ARGUMENT', 'migrate() takes { from, to, …options }')
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `batchSize must be an integer from 1 to 100000, got ${batchSize}`,
    )
  }
  const onConflict = options.onConflict ?? 'error'
  if (!['error', 'skip', 'replace'].includes(onConflict)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `onConflict must be 'error', 'skip' or 'replace', got ${JSON.stringify(onConflict)}`,
    )
  }
  for (const list of ['tables', 'collections'] as const) {
    const value = options[list]
    if (value !== undefined && (!Array.isArray(value) || value.some((n) => typeof n !== 'string'))) {
      throw new StorageError('INVALID_ARGUMENT', `${list} must be a list of names`)
    }
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'onProgress must be a function (done, total, name, detail) => void',
    )
  }
  return {
    tables: options.tables,
    collections: options.collections,
    batchSize,
    dryRun: booleanOption(options.dryRun, false, 'dryRun'),
    resume: booleanOption(options.resume, false, 'resume'),
    verify: booleanOption(options.verify, false, 'verify'),
    onConflict,
    columnTypes: options.columnTypes ?? {},
    onProgress: options.onProgress ?? (() => undefined),
  }
}
