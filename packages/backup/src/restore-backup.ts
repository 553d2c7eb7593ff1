import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readFile, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupDestination } from './backup-destination.js'
import type { BackupPhase } from './backup-events.js'
import type { BackupManifest } from './backup-manifest.js'
import { holdsData } from './holds-data.js'
import { checkContent, installSqliteFile, refuseOpenFile } from './install-sqlite-file.js'
import { importImageRows, importLogical, restoreLogicalToFile } from './logical-backup.js'
import { unpackFile } from './pack-file.js'
import { type ImageAdapter, isImageAdapter } from './take-snapshot.js'

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
 * Restores a backup: checks the target first, downloads the data object while hashing it, proves
 * it is the object the manifest describes (length, sha256, and the sha256 in its metadata when
 * there is one), and only then puts its content into `into`. An uncompressed SQLite image bound
 * for a path is downloaded straight beside that path, so it is written once.
 */
export async function restoreBackup(
  destination: BackupDestination,
  manifest: BackupManifest,
  into: RestoreTarget,
  options: { replace: boolean; folder: string; report: Report },
): Promise<Pick<RestoreResult, 'method' | 'path' | 'rows' | 'notes'>> {
  const { replace, folder, report } = options
  const progress = (bytes: number, total: number) => report('restore', bytes, total)
  const download = (path: string) => fetchVerified(destination, manifest, path, report)
  const downloaded = () => download(join(folder, manifest.object))
  if (typeof into === 'string') {
    const path = resolve(into)
    await refuseExistingFile(path, replace)
    await refuseOpenFile(path)
    if (manifest.format === 'sqlite-image' && manifest.compression === 'none') {
      await installSqliteFile(path, manifest, download)
    } else if (manifest.format === 'sqlite-image') {
      const stored = await downloaded()
      await installSqliteFile(path, manifest, async (staged) => {
        checkContent(await unpackFile(stored, staged, manifest.compression, progress), manifest)
      })
    } else {
      const content = await unpacked(await downloaded(), manifest, folder, progress)
      const { rows, notes } = await restoreLogicalToFile(content, path, manifest)
      return { method: 'file', path, rows, notes }
    }
    return { method: 'file', path, notes: [] }
  }
  if (!isAdapter(into)) {
    throw new StorageError('INVALID_ARGUMENT', 'into must be a SQLite file path or a StorageAdapter')
  }
  const whole = manifest.format === 'sqlite-image' && isImageAdapter(into)
  if (whole && !replace && (await hasTables(into))) throw holdsData(into.kind)
  const stored = await downloaded()
  const content = await unpacked(stored, manifest, folder, progress)
  // The downloaded object is no longer needed; freeing it early halves the disk a large restore uses.
  if (content !== stored) await rm(stored, { force: true })
  if (whole) {
    await (into as ImageAdapter).import(new Uint8Array(await readFile(content)))
    return { method: 'image', notes: [] }
  }
  const restored =
    manifest.format === 'sqlite-image'
      ? await importImageRows(content, into, { replace, manifest })
      : await importLogical(content, into, { replace, manifest })
  return { method: 'tables', rows: restored.rows, notes: restored.notes }
}

/** Downloads the data object to `path`, hashing as it goes, and refuses it unless it matches the manifest. */
async function fetchVerified(
  destination: BackupDestination,
  manifest: BackupManifest,
  path: string,
  report: Report,
): Promise<string> {
  const fetched = await destination.get(manifest.object)
  const hash = createHash('sha256')
  let size = 0
  const total = fetched.size ?? manifest.size
  await pipeline(
    fetched.body,
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk)
        size += chunk.length
        report('download', size, total)
        done(null, chunk)
      },
    }),
    createWriteStream(path),
  )
  const sha256 = hash.digest('hex')
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
  return path
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
