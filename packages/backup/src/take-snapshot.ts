import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupFormat } from './backup-names.js'
import { exportLogical } from './logical-backup.js'
import { errorMessage } from './storage-failure.js'

/** A consistent copy of the database, staged in a file. */
export interface Snapshot {
  /** The staged file. */
  readonly file: string
  /** How it is laid out. */
  readonly format: BackupFormat
  /** The tables it holds, or `null` for the whole database. */
  readonly tables: readonly string[] | null
}

/** An adapter that can hand over its whole SQLite image (`@engram/sqljs`, `@engram/indexeddb`). */
export interface ImageAdapter extends StorageAdapter {
  /** A consistent image of the database file, taken between transactions. */
  export(): Promise<Uint8Array>
  /** Replaces the whole database with an image, atomically. */
  import(image: Uint8Array): Promise<void>
}

/** Whether `adapter` exports and imports whole SQLite images. */
export function isImageAdapter(adapter: StorageAdapter): adapter is ImageAdapter {
  const candidate = adapter as Partial<ImageAdapter>
  return (
    adapter.dialect === 'sqlite' &&
    typeof candidate.export === 'function' &&
    typeof candidate.import === 'function'
  )
}

/** The format a backup of `adapter` uses when none is asked for. */
export function defaultFormat(adapter: StorageAdapter, tables: readonly string[] | null): BackupFormat {
  return adapter.dialect === 'sqlite' && tables === null ? 'sqlite-image' : 'engram-jsonl'
}

/**
 * Takes a consistent snapshot of `adapter` into `folder` while writes continue. SQLite images
 * come from the driver's own export (sql.js, IndexedDB) or `VACUUM INTO` (a read transaction,
 * so other connections keep writing); logical exports run in one snapshot transaction.
 */
export async function takeSnapshot(
  adapter: StorageAdapter,
  format: BackupFormat,
  tables: readonly string[] | null,
  folder: string,
): Promise<Snapshot> {
  if (format === 'engram-jsonl') {
    const file = join(folder, 'snapshot.jsonl')
    await exportLogical(adapter, file, tables)
    return { file, format, tables }
  }
  if (adapter.dialect !== 'sqlite') {
    throw new StorageError(
      'UNSUPPORTED',
      `A 'sqlite-image' backup needs a SQLite database, and this is ${adapter.kind} (${adapter.dialect}); use format 'engram-jsonl' (the default there)`,
    )
  }
  const file = join(folder, 'snapshot.sqlite')
  if (isImageAdapter(adapter)) {
    await writeFile(file, await adapter.export())
    return { file, format, tables: null }
  }
  await adapter.exec(`VACUUM INTO ${sqliteString(file)}`)
  const written = await stat(file).catch(() => undefined)
  if (!written?.isFile()) {
    throw new StorageError(
      'UNSUPPORTED',
      `${adapter.kind} ran VACUUM INTO but no file appeared at ${file} (its SQLite does not write to this machine's file system); use format 'engram-jsonl'`,
    )
  }
  return { file, format, tables: null }
}

/** A SQLite string literal of `text`; paths with NUL cannot be expressed and are refused. */
export function sqliteString(text: string): string {
  if (text.includes('\0')) {
    throw new StorageError('INVALID_ARGUMENT', `The path ${JSON.stringify(text)} contains a NUL character`)
  }
  return `'${text.replaceAll("'", "''")}'`
}

/** Wraps a snapshot failure so the message says which phase failed. */
export function snapshotFailure(adapter: StorageAdapter, error: unknown): StorageError {
  if (error instanceof StorageError) return error
  return new StorageError(
    'QUERY_FAILED',
    `Could not take a snapshot of ${adapter.kind}: ${errorMessage(error)}`,
    {
      cause: error,
    },
  )
}
