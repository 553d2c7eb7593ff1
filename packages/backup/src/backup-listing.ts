import type { BackupDestination, StoredObject } from './backup-destination.js'
import type { BackupInfo } from './backup-events.js'
import {
  type BackupCompression,
  type BackupFormat,
  classifyObject,
  manifestName,
  parseBackupId,
} from './backup-names.js'

/** What `prune()` did. */
export interface PruneResult {
  /** Keys of the backups deleted (and of interrupted ones cleaned up), oldest first. */
  readonly deleted: readonly string[]
  /** Complete backups left. */
  readonly kept: number
}

/** The objects of one name in a destination, sorted into complete backups and leftovers. */
export interface BackupScan {
  /** Backups with both a data object and a manifest, newest first. */
  readonly complete: BackupInfo[]
  /** Ids with a data object or a manifest but not both (interrupted or half-deleted), with their objects. */
  readonly incomplete: { readonly key: string; readonly createdAt: Date; readonly objects: string[] }[]
}

/** Lists a destination (page by page) and sorts out the backups named `name`. */
export async function listBackups(destination: BackupDestination, name: string): Promise<BackupScan> {
  const found = new Map<string, { manifest: boolean; data: StoredObject[] }>()
  for await (const object of destination.list()) {
    const kind = classifyObject(object.name)
    if (kind === undefined || parseBackupId(kind.id)?.name !== name) continue
    const entry = found.get(kind.id) ?? { manifest: false, data: [] }
    if (kind.kind === 'manifest') entry.manifest = true
    else entry.data.push(object)
    found.set(kind.id, entry)
  }
  const complete: BackupInfo[] = []
  const incomplete: BackupScan['incomplete'] = []
  for (const [key, entry] of found) {
    const createdAt = parseBackupId(key)?.createdAt as Date
    const data = entry.data[0]
    if (entry.manifest && data !== undefined && entry.data.length === 1) {
      const match = /\.(sqlite|jsonl)(\.gz)?$/.exec(data.name)
      const format: BackupFormat = match?.[1] === 'sqlite' ? 'sqlite-image' : 'engram-jsonl'
      const compression: BackupCompression = match?.[2] ? 'gzip' : 'none'
      complete.push({ key, createdAt, format, compression, size: data.size, object: data.name })
    } else {
      const objects = entry.data.map((d) => d.name)
      if (entry.manifest) objects.unshift(manifestName(key))
      incomplete.push({ key, createdAt, objects })
    }
  }
  complete.sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0))
  return { complete, incomplete }
}

/** What a prune deletes, in order: manifests first, then data objects. */
export interface PrunePlan {
  readonly manifests: string[]
  readonly objects: string[]
  readonly deleted: string[]
  readonly kept: number
  /** Leftovers older than this are safe to remove: every kept backup is newer. */
  readonly cutoff: Date | undefined
}

/**
 * Keeps the newest `keep` complete backups and drops the rest. Leftovers of interrupted backups
 * go too when they are older than the oldest kept backup (or than the newest dropped one), so a
 * backup still being written by another process is never touched.
 */
export function planPrune(scan: BackupScan, keep: number): PrunePlan {
  const kept = scan.complete.slice(0, keep)
  const dropped = scan.complete.slice(keep).reverse()
  const cutoff = kept.at(-1)?.createdAt ?? dropped.at(-1)?.createdAt
  const stale = cutoff === undefined ? [] : scan.incomplete.filter((entry) => entry.createdAt < cutoff)
  return {
    manifests: dropped.map((backup) => manifestName(backup.key)),
    objects: [...dropped.map((backup) => backup.object), ...stale.flatMap((entry) => entry.objects)],
    deleted: [...dropped.map((backup) => backup.key), ...stale.map((entry) => entry.key)],
    kept: kept.length,
    cutoff,
  }
}
