import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupSelector } from './backup-catalog.js'
import { type BackupManager, createBackupManager } from './backup-manager.js'
import type { BackupFormat } from './backup-names.js'
import type { BackupManagerOptions } from './backup-options.js'
import type { RestoreOptions, RestoreResult } from './restore-backup.js'
import { type S3ClientLike, s3Destination } from './s3-destination.js'

/** The options of `createCloudBackupManager`, in the shape earlier backup managers took. */
export interface CloudBackupOptions extends Omit<BackupManagerOptions, 'format'> {
  /** Backup format: engram's own, or `'json'` / `'sql'`, which both mean a logical `'engram-jsonl'` export. */
  readonly format?: BackupFormat | 'json' | 'sql'
  /** A key prefix in the bucket, such as `'memory-backups/'`. Default is `''`. */
  readonly prefix?: string
  /** Called with the key of each backup stored by the schedule or `backupNow()`. */
  readonly onSuccess?: (key: string) => void
  /** Called with the error of each backup that failed for good (after its retries). */
  readonly onError?: (error: StorageError) => void
  /** The same settings nested, as `{ options: { compression, format, prefix, tables } }`; top-level ones win. */
  readonly options?: Omit<CloudBackupOptions, 'options'>
}

/** A `BackupManager` with the calls of the earlier shape; `restore(key)` replaces the manager's own database unless told otherwise. */
export interface CloudBackupManager extends BackupManager {
  /** `runNow()`, resolving to the new backup's key. */
  backupNow(): Promise<string>
  /** The keys of the complete backups, newest first. */
  listBackups(): Promise<string[]>
}

/**
 * The backup manager in the shape `createCloudBackupManager(db, s3Client, bucket, options)`, so
 * code written for it keeps working: `start()`, `stop()` and `restore(timestamp)`. It is
 * `createBackupManager` on `s3Destination({ client, bucket, prefix })`; `restore()` replaces
 * the database it backs up unless `into` says otherwise, as that shape's callers expect.
 *
 * @example
 * const backups = createCloudBackupManager(db, new S3Client({ region: 'auto', endpoint }), 'agent-backups', {
 *   interval: 3_600_000,
 *   maxBackups: 168,
 *   options: { compression: 'gzip', prefix: 'memory-backups/' },
 * })
 * backups.start()
 */
export function createCloudBackupManager(
  db: StorageAdapter,
  s3Client: S3ClientLike,
  bucket: string,
  options: CloudBackupOptions = {},
): CloudBackupManager {
  if (options === null || typeof options !== 'object') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createCloudBackupManager options must be an object (or left out)',
    )
  }
  if (s3Client === null || typeof s3Client !== 'object' || typeof s3Client.send !== 'function') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createCloudBackupManager needs an S3Client from @aws-sdk/client-s3 as its second argument',
    )
  }
  const { options: nested = {}, ...top } = options
  const merged = { ...nested, ...top }
  const { prefix, format, onSuccess, onError, onEvent, ...rest } = merged
  const callbacks = onSuccess !== undefined || onError !== undefined
  const manager = createBackupManager(
    db,
    s3Destination({ client: s3Client, bucket, ...(prefix === undefined ? {} : { prefix }) }),
    {
      ...rest,
      ...(format === undefined
        ? {}
        : { format: format === 'json' || format === 'sql' ? 'engram-jsonl' : format }),
      ...(onEvent === undefined && !callbacks
        ? {}
        : {
            onEvent(event) {
              if (event.type === 'backup-completed') onSuccess?.(event.backup.key)
              if (event.type === 'backup-failed' && !event.willRetry) onError?.(event.error)
              onEvent?.(event)
            },
          }),
    },
  )
  return {
    destination: manager.destination,
    get started() {
      return manager.started
    },
    get running() {
      return manager.running
    },
    start: () => manager.start(),
    stop: () => manager.stop(),
    runNow: () => manager.runNow(),
    backupNow: async () => (await manager.runNow()).key,
    list: () => manager.list(),
    listBackups: async () => (await manager.list()).map((backup) => backup.key),
    prune: (pruneOptions) => manager.prune(pruneOptions),
    restore: (key: BackupSelector, restoreOptions: RestoreOptions = {}): Promise<RestoreResult> =>
      manager.restore(key, { replace: restoreOptions.into === undefined, ...restoreOptions }),
  }
}
