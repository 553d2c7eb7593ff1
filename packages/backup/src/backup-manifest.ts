import { type SqlDialect, StorageError } from '@engram/core'
import type { BackupCompression, BackupFormat } from './backup-names.js'

/** The manifest version this package writes and reads. */
export const MANIFEST_VERSION = 1

/**
 * The JSON object stored as `<id>.manifest.json` after a backup's data object is complete. It
 * is what makes the data a backup: restore checks the data against it before using it.
 */
export interface BackupManifest {
  /** Always `1`: the manifest version. */
  readonly engramBackup: typeof MANIFEST_VERSION
  /** The backup's id (also the start of both object names). */
  readonly id: string
  /** When the snapshot was taken (ISO-8601). */
  readonly createdAt: string
  /** The data object's name in the destination. */
  readonly object: string
  /** How the content is laid out. */
  readonly format: BackupFormat
  /** How the data object is compressed. */
  readonly compression: BackupCompression
  /** The data object's length in bytes, as stored. */
  readonly size: number
  /** The sha256 (hex) of the data object's bytes, as stored. */
  readonly sha256: string
  /** The content's length in bytes once decompressed. */
  readonly contentSize: number
  /** The sha256 (hex) of the decompressed content. */
  readonly contentSha256: string
  /** What was backed up. */
  readonly source: { readonly kind: string; readonly dialect: SqlDialect }
  /** The tables included, or `null` for the whole database. */
  readonly tables: readonly string[] | null
  /** How long the backup took, in milliseconds. */
  readonly durationMs: number
}

const HEX64 = /^[0-9a-f]{64}$/

/** Reads and checks a manifest; a damaged one is `INVALID_ARGUMENT` naming the backup. */
export function parseManifest(bytes: Uint8Array, id: string): BackupManifest {
  let value: Partial<BackupManifest>
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<BackupManifest>
  } catch (error) {
    throw damaged(id, 'it is not JSON', error)
  }
  if (value === null || typeof value !== 'object') throw damaged(id, 'it is not a JSON object')
  if (value.engramBackup !== MANIFEST_VERSION) {
    throw new StorageError(
      'UNSUPPORTED',
      `The manifest of backup ${id} has version ${JSON.stringify(value.engramBackup)}; this @engram/backup reads version ${MANIFEST_VERSION}. Upgrade @engram/backup to restore it`,
    )
  }
  const problems: string[] = []
  if (value.id !== id) problems.push(`its id is ${JSON.stringify(value.id)}`)
  if (typeof value.object !== 'string' || !value.object.startsWith(id)) problems.push('object is missing')
  if (value.format !== 'sqlite-image' && value.format !== 'engram-jsonl') problems.push('format is unknown')
  if (value.compression !== 'gzip' && value.compression !== 'none') problems.push('compression is unknown')
  for (const field of ['size', 'contentSize', 'durationMs'] as const) {
    const n = value[field]
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      problems.push(`${field} is not a byte count`)
  }
  for (const field of ['sha256', 'contentSha256'] as const) {
    if (typeof value[field] !== 'string' || !HEX64.test(value[field] as string))
      problems.push(`${field} is not a sha256`)
  }
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt)))
    problems.push('createdAt is not a date')
  const source = value.source
  if (
    !source ||
    typeof source.kind !== 'string' ||
    (source.dialect !== 'sqlite' && source.dialect !== 'postgres')
  ) {
    problems.push('source is missing')
  }
  if (
    value.tables !== null &&
    !(Array.isArray(value.tables) && value.tables.every((t) => typeof t === 'string'))
  ) {
    problems.push('tables is not a list of names')
  }
  if (
    value.compression === 'none' &&
    (value.size !== value.contentSize || value.sha256 !== value.contentSha256)
  ) {
    problems.push('an uncompressed backup has content and stored bytes that differ')
  }
  if (problems.length > 0) throw damaged(id, problems.join(', '))
  return value as BackupManifest
}

/** The manifest's bytes. */
export function encodeManifest(manifest: BackupManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)
}

function damaged(id: string, why: string, cause?: unknown): StorageError {
  return new StorageError(
    'INVALID_ARGUMENT',
    `The manifest of backup ${id} is damaged (${why}), so the backup cannot be trusted; restore another backup`,
    cause === undefined ? {} : { cause },
  )
}
