import { tmpdir } from 'node:os'
import { booleanOption, StorageError } from '@engram/core'
import type { BackupEvent } from './backup-events.js'
import {
  type BackupCompression,
  type BackupFormat,
  checkBackupName,
  DEFAULT_BACKUP_NAME,
} from './backup-names.js'

/** Options for `createBackupManager`. */
export interface BackupManagerOptions {
  /** Milliseconds between scheduled backups once `start()` is called. Default is `3_600_000` (one hour). */
  readonly interval?: number
  /** Complete backups to keep; after each successful backup the oldest beyond this are deleted. Default is `24`. */
  readonly maxBackups?: number
  /** How the stored object is compressed. Default is `'gzip'`. */
  readonly compression?: BackupCompression
  /** gzip's level, 1 (fastest) to 9 (smallest). Default is `1`. */
  readonly gzipLevel?: number
  /** Back up only these tables (a logical `'engram-jsonl'` backup). Default is the whole database. */
  readonly tables?: readonly string[]
  /**
   * `'sqlite-image'` (a whole SQLite file; SQLite databases only) or `'engram-jsonl'` (engram's
   * logical export, restorable into any backend). Default is `'sqlite-image'` on SQLite without
   * `tables`, `'engram-jsonl'` otherwise.
   */
  readonly format?: BackupFormat
  /** The first part of every backup id; managers sharing a destination keep apart by name. Default is `'engram'`. */
  readonly name?: string
  /** Receives every event: progress, completions, failures, skipped runs, pruning. An error it throws becomes a process warning and changes nothing else. */
  readonly onEvent?: (event: BackupEvent) => void
  /** Attempts after a failed one, for each backup. Default is `3`. */
  readonly retries?: number
  /** Milliseconds before the first retry; it doubles for each later one, up to one minute. Default is `1000`. */
  readonly retryDelay?: number
  /** Take a backup as soon as `start()` is called, rather than one interval later. Default is `false`. */
  readonly runOnStart?: boolean
  /** Where snapshots and downloads are staged. Default is the system's temporary folder. */
  readonly tempDir?: string
}

/** The options with their defaults, checked. */
export interface BackupSettings {
  readonly interval: number
  readonly maxBackups: number
  readonly compression: BackupCompression
  readonly gzipLevel: number
  readonly tables: readonly string[] | null
  readonly format: BackupFormat | undefined
  readonly name: string
  readonly onEvent: ((event: BackupEvent) => void) | undefined
  readonly retries: number
  readonly retryDelay: number
  readonly runOnStart: boolean
  readonly tempDir: string
}

/** The longest delay a Node timer takes. */
const MAX_TIMER = 2 ** 31 - 1

/** Checks `createBackupManager`'s options and fills in the defaults; a bad value is `INVALID_ARGUMENT`. */
export function resolveBackupOptions(options: BackupManagerOptions = {}): BackupSettings {
  if (options === null || typeof options !== 'object') {
    throw new StorageError('INVALID_ARGUMENT', 'The backup options must be an object (or left out)')
  }
  const {
    interval = 3_600_000,
    maxBackups = 24,
    compression = 'gzip',
    gzipLevel = 1,
    tables,
    format,
    name = DEFAULT_BACKUP_NAME,
    onEvent,
    retries = 3,
    retryDelay = 1000,
    runOnStart = false,
    tempDir = tmpdir(),
  } = options
  integer(interval, 'interval', 1, MAX_TIMER, 'milliseconds')
  integer(maxBackups, 'maxBackups', 1, 1_000_000, 'backups')
  integer(gzipLevel, 'gzipLevel', 1, 9, 'a zlib level')
  integer(retries, 'retries', 0, 100, 'attempts')
  integer(retryDelay, 'retryDelay', 0, MAX_TIMER, 'milliseconds')
  if (compression !== 'gzip' && compression !== 'none') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `compression must be 'gzip' or 'none'; got ${JSON.stringify(compression)}`,
    )
  }
  if (format !== undefined && format !== 'sqlite-image' && format !== 'engram-jsonl') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `format must be 'sqlite-image' or 'engram-jsonl' (or left out); got ${JSON.stringify(format)}`,
    )
  }
  let tableList: readonly string[] | null = null
  if (tables !== undefined) {
    if (
      !Array.isArray(tables) ||
      tables.length === 0 ||
      !tables.every((t) => typeof t === 'string' && t.length > 0)
    ) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'tables must be a non-empty list of table names (or left out for every table)',
      )
    }
    if (format === 'sqlite-image') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        "tables needs format 'engram-jsonl': a 'sqlite-image' backup is always the whole database file",
      )
    }
    tableList = [...new Set(tables)]
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'onEvent must be a function (event) => void')
  }
  booleanOption(runOnStart, false, 'runOnStart')
  if (typeof tempDir !== 'string' || tempDir.length === 0) {
    throw new StorageError('INVALID_ARGUMENT', 'tempDir must be the path of a folder')
  }
  return {
    interval,
    maxBackups,
    compression,
    gzipLevel,
    tables: tableList,
    format,
    name: checkBackupName(name),
    onEvent,
    retries,
    retryDelay,
    runOnStart,
    tempDir,
  }
}

function integer(value: unknown, field: string, min: number, max: number, unit: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${field} must be a whole number from ${min} to ${max} (${unit}); got ${JSON.stringify(value)}`,
    )
  }
}
