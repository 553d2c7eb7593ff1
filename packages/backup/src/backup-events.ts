import type { StorageError } from '@engram/core'
import type { BackupCompression, BackupFormat } from './backup-names.js'

/** A complete backup, as `list()` reports it. */
export interface BackupInfo {
  /** The backup's id, which `restore()` takes: `<name>-<UTC time>-<random>`. */
  readonly key: string
  /** When its snapshot was taken. */
  readonly createdAt: Date
  /** How its content is laid out. */
  readonly format: BackupFormat
  /** How its data object is compressed. */
  readonly compression: BackupCompression
  /** The data object's size in bytes. */
  readonly size: number
  /** The data object's name in the destination. */
  readonly object: string
}

/** A step of a backup or restore, for progress reports. */
export type BackupPhase = 'snapshot' | 'compress' | 'upload' | 'download' | 'verify' | 'restore'

/** What a manager reports through `onEvent`. */
export type BackupEvent =
  /** A backup attempt began (`scheduled`: started by the timer rather than `runNow()`). */
  | {
      readonly type: 'backup-started'
      readonly key: string
      readonly attempt: number
      readonly scheduled: boolean
    }
  /** Bytes moved in a phase of a backup or restore; `total` when known. */
  | {
      readonly type: 'progress'
      readonly key: string
      readonly phase: BackupPhase
      readonly bytes: number
      readonly total?: number
    }
  /** A backup is stored with its manifest. */
  | { readonly type: 'backup-completed'; readonly backup: BackupInfo; readonly durationMs: number }
  /** An attempt failed; `willRetry` says whether another follows after `retryInMs`. */
  | {
      readonly type: 'backup-failed'
      readonly key: string
      readonly error: StorageError
      readonly attempt: number
      readonly willRetry: boolean
      readonly retryInMs?: number
    }
  /** A scheduled backup did not start, and why (one was still running). */
  | { readonly type: 'backup-skipped'; readonly reason: string }
  /** Retention deleted these backups (and leftovers of interrupted ones), keeping `kept`. */
  | { readonly type: 'pruned'; readonly deleted: readonly string[]; readonly kept: number }
  /** Retention failed; the new backup is stored all the same, and the next prune tries again. */
  | { readonly type: 'prune-failed'; readonly error: StorageError }
  /** A restore began. */
  | { readonly type: 'restore-started'; readonly key: string }
  /** A restore finished and its data is in place. */
  | { readonly type: 'restore-completed'; readonly key: string; readonly durationMs: number }
