import { randomBytes } from 'node:crypto'
import { StorageError } from '@engram/core'

/** How a backup's content is laid out: a whole SQLite file, or engram's JSON Lines export (see docs/migrate.md). */
export type BackupFormat = 'sqlite-image' | 'engram-jsonl'

/** How the stored object is compressed. */
export type BackupCompression = 'gzip' | 'none'

/** The name every backup's id starts with unless `name` is set. */
export const DEFAULT_BACKUP_NAME = 'engram'

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const ID = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})-(\d{8}T\d{9}Z)-([0-9a-f]{6})$/
const EXTENSION: Record<BackupFormat, string> = { 'sqlite-image': 'sqlite', 'engram-jsonl': 'jsonl' }

/** Checks a backup name (the first part of every id): letters, digits, `_`, `.` and `-`, at most 63. */
export function checkBackupName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `name must be 1 to 63 letters, digits, _ . or - (starting with a letter or digit), such as 'agent-db'; got ${JSON.stringify(name)}`,
    )
  }
  return name
}

/** A new backup id: `<name>-<UTC time to the millisecond>-<6 random hex digits>`, so ids sort by time. */
export function newBackupId(name: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '')
  return `${name}-${stamp}-${randomBytes(3).toString('hex')}`
}

/** The parts of a backup id, or `undefined` when `id` is not one. */
export function parseBackupId(id: string): { name: string; createdAt: Date } | undefined {
  const match = ID.exec(id)
  if (!match) return undefined
  const s = match[2] as string
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`
  const createdAt = new Date(iso)
  if (Number.isNaN(createdAt.getTime())) return undefined
  return { name: match[1] as string, createdAt }
}

/** The data object's name: `<id>.sqlite` or `<id>.jsonl`, plus `.gz` when compressed. */
export function dataObjectName(id: string, format: BackupFormat, compression: BackupCompression): string {
  return `${id}.${EXTENSION[format]}${compression === 'gzip' ? '.gz' : ''}`
}

/** The manifest's name: `<id>.manifest.json`. It is written last; a backup without it is not a backup. */
export function manifestName(id: string): string {
  return `${id}.manifest.json`
}

/** What an object name in a destination is: a manifest, a data object, or something else. */
export function classifyObject(
  name: string,
): { kind: 'manifest'; id: string } | { kind: 'data'; id: string } | undefined {
  if (name.endsWith('.manifest.json')) {
    const id = name.slice(0, -'.manifest.json'.length)
    return parseBackupId(id) ? { kind: 'manifest', id } : undefined
  }
  const match = /^(.+)\.(sqlite|jsonl)(\.gz)?$/.exec(name)
  if (match && parseBackupId(match[1] as string)) return { kind: 'data', id: match[1] as string }
  return undefined
}
