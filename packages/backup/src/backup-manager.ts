import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type StorageAdapter, StorageError } from '@engram/core'
import { type BackupSelector, Catalog } from './backup-catalog.js'
import type { BackupDestination } from './backup-destination.js'
import type { BackupInfo } from './backup-events.js'
import type { PruneResult } from './backup-listing.js'
import { type BackupManifest, encodeManifest, MANIFEST_VERSION } from './backup-manifest.js'
import { dataObjectName, manifestName, newBackupId } from './backup-names.js'
import { type BackupManagerOptions, type BackupSettings, resolveBackupOptions } from './backup-options.js'
import { packFile } from './pack-file.js'
import type { RestoreOptions, RestoreResult } from './restore-backup.js'
import { backoffDelay, pause } from './retry-backoff.js'
import { storageFailure } from './storage-failure.js'
import { defaultFormat, snapshotFailure, takeSnapshot } from './take-snapshot.js'

/** Scheduled, checksummed backups of one database to one destination. */
export interface BackupManager {
  /** Where the backups go. */
  readonly destination: BackupDestination
  /** Whether the schedule is running (between `start()` and `stop()`). */
  readonly started: boolean
  /** Whether a backup is in progress. */
  readonly running: boolean
  /** Starts taking a backup every `interval`; its timer never keeps the process alive. Calling it again does nothing. */
  start(): void
  /** Stops the schedule and waits for a backup in progress to finish (one waiting to retry gives up). */
  stop(): Promise<void>
  /** Takes a backup now, with retries, and resolves once it and its manifest are stored. Waits for one in progress first. */
  runNow(): Promise<BackupInfo>
  /** The complete backups (those with a manifest), newest first, fetched page by page. */
  list(): Promise<BackupInfo[]>
  /** Verifies a backup and restores it (see `RestoreOptions`); a corrupt one is refused before anything changes. */
  restore(key: BackupSelector, options?: RestoreOptions): Promise<RestoreResult>
  /** Deletes complete backups beyond `keep` (default `maxBackups`), oldest first, and leftovers of interrupted ones older than every kept backup. */
  prune(options?: { keep?: number }): Promise<PruneResult>
}

/**
 * Backs up `adapter` to `destination` on a schedule or on demand. Each backup is a consistent
 * snapshot taken while writes continue, compressed, hashed (sha256 in the object's metadata and
 * in a manifest written last), uploaded whole and then pruned to `maxBackups`. Runs never
 * overlap: a tick that finds one running is skipped and reported. Failed attempts are reported
 * through `onEvent` and retried with exponential backoff.
 *
 * @example
 * const backups = createBackupManager(db, folderDestination('./backups'), { interval: 3_600_000, maxBackups: 24 })
 * backups.start()
 * const [latest] = await backups.list()
 * await backups.restore(latest.key, { into: './restored.db' })
 */
export function createBackupManager(
  adapter: StorageAdapter,
  destination: BackupDestination,
  options: BackupManagerOptions = {},
): BackupManager {
  if (!adapter || typeof adapter.transaction !== 'function' || typeof adapter.dialect !== 'string') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createBackupManager needs a StorageAdapter as its first argument',
    )
  }
  if (!destination || typeof destination.put !== 'function' || typeof destination.list !== 'function') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createBackupManager needs a destination as its second argument: folderDestination(path) or s3Destination({ bucket, … })',
    )
  }
  return new Manager(adapter, destination, resolveBackupOptions(options))
}

class Manager implements BackupManager {
  readonly destination: BackupDestination
  readonly #adapter: StorageAdapter
  readonly #settings: BackupSettings
  readonly #catalog: Catalog
  #timer: ReturnType<typeof setInterval> | undefined
  #current: Promise<BackupInfo> | undefined
  #queued: Promise<BackupInfo> | undefined
  #halt = new AbortController()

  constructor(adapter: StorageAdapter, destination: BackupDestination, settings: BackupSettings) {
    this.#adapter = adapter
    this.destination = destination
    this.#settings = settings
    this.#catalog = new Catalog(destination, settings.name, settings.onEvent, settings.tempDir)
  }

  get started(): boolean {
    return this.#timer !== undefined
  }

  get running(): boolean {
    return this.#current !== undefined
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#tick(), this.#settings.interval)
    this.#timer.unref()
    if (this.#settings.runOnStart) this.#tick()
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#halt.abort()
    this.#halt = new AbortController()
    await Promise.allSettled([this.#current, this.#queued])
  }

  runNow(): Promise<BackupInfo> {
    const current = this.#current
    if (current === undefined) return this.#run(false)
    this.#queued ??= current.then(
      () => this.#afterQueue(),
      () => this.#afterQueue(),
    )
    return this.#queued
  }

  list(): Promise<BackupInfo[]> {
    return this.#catalog.list()
  }

  prune(options: { keep?: number } = {}): Promise<PruneResult> {
    return this.#catalog.prune({ keep: options.keep ?? this.#settings.maxBackups })
  }

  restore(key: BackupSelector, options: RestoreOptions = {}): Promise<RestoreResult> {
    if (options === null || typeof options !== 'object') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'restore options must be an object such as { into, replace }',
      )
    }
    return this.#catalog.restore(key, { ...options, into: options.into ?? this.#adapter })
  }

  #afterQueue(): Promise<BackupInfo> {
    this.#queued = undefined
    return this.#run(false)
  }

  #tick(): void {
    if (this.#current !== undefined) {
      this.#catalog.emit({ type: 'backup-skipped', reason: 'the previous backup is still running' })
      return
    }
    // Failures are reported through onEvent; the schedule carries on.
    this.#run(true).catch(() => undefined)
  }

  #run(scheduled: boolean): Promise<BackupInfo> {
    const run = (async () => {
      try {
        return await this.#withRetries(scheduled)
      } finally {
        this.#current = undefined
      }
    })()
    this.#current = run
    return run
  }

  async #withRetries(scheduled: boolean): Promise<BackupInfo> {
    const { retries, retryDelay } = this.#settings
    const halt = this.#halt.signal
    for (let attempt = 1; ; attempt++) {
      const at = new Date()
      const id = newBackupId(this.#settings.name, at)
      try {
        return await this.#backupOnce(id, at, attempt, scheduled)
      } catch (failure) {
        const error = storageFailure(failure, 'QUERY_FAILED', `Backup ${id} failed`)
        const willRetry = attempt <= retries && !halt.aborted
        const retryInMs = willRetry ? backoffDelay(retryDelay, attempt) : undefined
        this.#catalog.emit({
          type: 'backup-failed',
          key: id,
          error,
          attempt,
          willRetry,
          ...(retryInMs === undefined ? {} : { retryInMs }),
        })
        if (retryInMs === undefined || !(await pause(retryInMs, halt, !scheduled))) throw error
      }
    }
  }

  async #backupOnce(id: string, createdAt: Date, attempt: number, scheduled: boolean): Promise<BackupInfo> {
    const { compression, gzipLevel, tables, tempDir } = this.#settings
    const started = performance.now()
    this.#catalog.emit({ type: 'backup-started', key: id, attempt, scheduled })
    const format = this.#settings.format ?? defaultFormat(this.#adapter, tables)
    const folder = await mkdtemp(join(tempDir, 'engram-backup-'))
    const object = dataObjectName(id, format, compression)
    let uploaded = false
    let size = 0
    try {
      this.#catalog.progress(id, 'snapshot', 0)
      const snapshot = await takeSnapshot(this.#adapter, format, tables, folder).catch((error: unknown) => {
        throw snapshotFailure(this.#adapter, error)
      })
      const packed = await packFile(
        snapshot.file,
        join(folder, object),
        compression,
        gzipLevel,
        (bytes, total) => this.#catalog.progress(id, 'compress', bytes, total),
      )
      const metadata = { 'engram-backup': id, 'engram-sha256': packed.sha256, 'engram-format': format }
      await this.destination.put(object, packed.file, metadata, (bytes, total) =>
        this.#catalog.progress(id, 'upload', bytes, total),
      )
      uploaded = true
      size = packed.size
      const manifest: BackupManifest = {
        engramBackup: MANIFEST_VERSION,
        id,
        createdAt: createdAt.toISOString(),
        object,
        format,
        compression,
        size: packed.size,
        sha256: packed.sha256,
        contentSize: packed.contentSize,
        contentSha256: packed.contentSha256,
        source: { kind: this.#adapter.kind, dialect: this.#adapter.dialect },
        tables: snapshot.tables,
        durationMs: Math.round(performance.now() - started),
      }
      await this.destination.put(manifestName(id), encodeManifest(manifest), { 'engram-backup': id })
    } catch (error) {
      // Without its manifest the object is not a backup; removing it now saves prune the trouble.
      if (uploaded) await this.destination.delete([object]).catch(() => undefined)
      throw error
    } finally {
      await rm(folder, { recursive: true, force: true }).catch(() => undefined)
    }
    const info: BackupInfo = { key: id, createdAt, format, compression, size, object }
    this.#catalog.emit({
      type: 'backup-completed',
      backup: info,
      durationMs: Math.round(performance.now() - started),
    })
    // Retention runs only after a backup is safely stored, so a failing upload never costs an old one.
    await this.prune().catch((error: unknown) =>
      this.#catalog.emit({
        type: 'prune-failed',
        error: storageFailure(error, 'QUERY_FAILED', 'Pruning old backups failed'),
      }),
    )
    return info
  }
}
