import { readFile, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupDestination } from './backup-destination.js'
import type { BackupPhase } from './backup-events.js'
import type { BackupManifest } from './backup-manifest.js'
import { holdsData } from './holds-data.js'
import { checkContent, installSqliteFile } from './install-sqlite-file.js'
import { importImageRows, importLogical, restoreLogicalToFile } from './logical-backup.js'
import { hashFile, unpackFile } from './pack-file.js'
import { isImageAdapter } from './take-snapshot.js'

/** Where a restore puts the data: a SQLite file path, or an open adapter. */
export type RestoreTarget = string | StorageAdapter

/** Options for `restore()`. */
export interface RestoreOptions {
  /**
   * Where to restore: a path (a SQLite file, written beside and swapped in when complete; nothing
   * may have it open), or an adapter (sql.js / IndexedDB take the image whole; other adapters,
   * Postgres included, get the backup's tables through a logical import). Default is the
   * manager's own adapter.
   */
  readonly into?: RestoreTarget
  /** Allow replacing data the target already holds (an existing file, or tables of the same names). Default is `false`. */
  readonly replace?: boolean
}

/** What a restore did. */
export interface RestoreResult {
  /** The backup restored. */
  readonly key: string
  /** Its format. */
  readonly format: BackupManifest['format']
  /** `'file'`: a SQLite file was put at `path`; `'image'`: an adapter took the image whole; `'tables'`: rows were imported. */
  readonly method: 'file' | 'image' | 'tables'
  /** The file written, for `'file'`. */
  readonly path?: string
  /** Rows written, for a logical restore. */
  readonly rows?: number
  /** What the target did not get, in words (such as virtual tables of an image restored as rows); usually empty. */
  readonly notes: readonly string[]
  /** Bytes downloaded. */
  readonly bytes: number
  /** How long it took, in milliseconds. */
  readonly durationMs: number
}

type Report = (phase: BackupPhase, bytes: number, total?: number) => void

/**
 * Downloads a backup's data object into `folder` and proves it is the one the manifest
 * describes (length, sha256, and the sha256 in the object's metadata when there is one), before
 * anything else happens. Returns the verified file.
 */
export async function fetchVerified(
  destination: BackupDestination,
  manifest: BackupManifest,
  folder: string,
  report: Report,
): Promise<string> {
  const stored = join(folder, manifest.object)
  const fetched = await destination.get(manifest.object, stored, (bytes, total) =>
    report('download', bytes, total),
  )
  const { size, sha256 } = await hashFile(stored, (bytes, total) => report('verify', bytes, total))
  if (size !== manifest.size) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Backup ${manifest.id} is ${size < manifest.size ? 'truncated' : 'too long'}: ${manifest.object} in ${destination.description} has ${size} bytes, the manifest says ${manifest.size}. Nothing was changed; restore another backup`,
    )
  }
  if (sha256 !== manifest.sha256) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Backup ${manifest.id} is corrupt: the sha256 of ${manifest.object} in ${destination.description} is ${sha256}, the manifest says ${manifest.sha256}. Nothing was changed; restore another backup`,
    )
  }
  const recorded = fetched.metadata['engram-sha256']
  if (recorded !== undefined && recorded !== manifest.sha256) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Backup ${manifest.id} is inconsistent: ${manifest.object} carries sha256 ${recorded} in its metadata, the manifest says ${manifest.sha256}. Nothing was changed; restore another backup`,
    )
  }
  return stored
}

/** Puts a verified backup's content into `target`. */
export async function applyBackup(
  manifest: BackupManifest,
  stored: string,
  target: RestoreTarget,
  options: { replace: boolean; folder: string; report: Report },
): Promise<Pick<RestoreResult, 'method' | 'path' | 'rows' | 'notes'>> {
  const { replace, folder, report } = options
  const progress = (bytes: number, total: number) => report('restore', bytes, total)
  if (typeof target === 'string') {
    const path = resolve(target)
    await refuseExistingFile(path, replace)
    if (manifest.format === 'sqlite-image') {
      await installSqliteFile(stored, manifest, path, progress)
      return { method: 'file', path, notes: [] }
    }
    const content = await unpacked(stored, manifest, folder, progress)
    const { rows, notes } = await restoreLogicalToFile(content, path, manifest)
    return { method: 'file', path, rows, notes }
  }
  if (!isAdapter(target)) {
    throw new StorageError('INVALID_ARGUMENT', 'into must be a SQLite file path or a StorageAdapter')
  }
  const content = await unpacked(stored, manifest, folder, progress)
  // The downloaded object is no longer needed; freeing it early halves the disk a large restore uses.
  if (content !== stored) await rm(stored, { force: true })
  if (manifest.format === 'sqlite-image' && isImageAdapter(target)) {
    if (!replace && (await hasTables(target))) throw holdsData(target.kind)
    await target.import(new Uint8Array(await readFile(content)))
    return { method: 'image', notes: [] }
  }
  const restored =
    manifest.format === 'sqlite-image'
      ? await importImageRows(content, target, { replace, manifest })
      : await importLogical(content, target, { replace, manifest })
  return { method: 'tables', rows: restored.rows, notes: restored.notes }
}

/** Decompresses a verified stored file into `folder` and checks the content against the manifest. */
async function unpacked(
  stored: string,
  manifest: BackupManifest,
  folder: string,
  progress: (bytes: number, total: number) => void,
): Promise<string> {
  if (manifest.compression === 'none') return stored
  const content = join(folder, manifest.format === 'sqlite-image' ? 'content.sqlite' : 'content.jsonl')
  checkContent(await unpackFile(stored, content, manifest.compression, progress), manifest)
  return content
}

async function refuseExistingFile(path: string, replace: boolean): Promise<void> {
  const existing = await stat(path).catch(() => undefined)
  if (existing?.isDirectory()) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${path} is a folder; give the path of the database file to restore`,
    )
  }
  if (existing !== undefined && existing.size > 0 && !replace) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${path} already exists; pass replace: true (--replace) to swap the backup in for it, or restore to a new path. Nothing was changed`,
    )
  }
}

async function hasTables(adapter: StorageAdapter): Promise<boolean> {
  const row = await adapter.get<{ n: number }>(
    "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
  )
  return Number(row?.n ?? 0) > 0
}

function isAdapter(value: unknown): value is StorageAdapter {
  const candidate = value as Partial<StorageAdapter> | null
  return (
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.transaction === 'function' &&
    (candidate.dialect === 'sqlite' || candidate.dialect === 'postgres')
  )
}
