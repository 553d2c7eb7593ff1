import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type StorageAdapter, StorageError } from '@engram/core'
import type { BackupDestination } from './backup-destination.js'
import type { BackupEvent, BackupInfo, BackupPhase } from './backup-events.js'
import { listBackups, type PruneResult, planPrune } from './backup-listing.js'
import { type BackupManifest, encodeManifest, MANIFEST_VERSION, parseManifest } from './backup-manifest.js'
import { classifyObject, dataObjectName, manifestName, newBackupId, parseBackupId } from './backup-names.js'
import { type BackupManagerOptions, type BackupSettings, resolveBackupOptions } from './backup-options.js'
import { packFile } from './pack-file.js'
import { applyBackup, fetchVerified, type RestoreOptions, type RestoreResult } from './restore-backup.js'
import { backoffDelay, pause } from './retry-backoff.js'
import { errorMessage, storageFailure } from './storage-failure.js'
import { defaultFormat, snapshotFailure, takeSnapshot } from './take-snapshot.js'

/** Which backup `restore()` means: its key (id), `'latest'`, or the time it was taken (a Date or epoch milliseconds). */
export type BackupSelector = string | number | Date

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
  #timer: ReturnType<typeof setInterval> | undefined
  #current: Promise<BackupInfo> | undefined
  #queued: Promise<BackupInfo> | undefined
  #halt = new AbortController()

  constructor(adapter: StorageAdapter, destination: BackupDestination, settings: BackupSettings) {
    this.#adapter = adapter
    this.destination = destination
    this.#settings = settings
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
    return listBackups(this.destination, this.#settings.name).then((scan) => scan.complete)
  }

  async prune(options: { keep?: number } = {}): Promise<PruneResult> {
    const keep = options.keep ?? this.#settings.maxBackups
    if (!Number.isInteger(keep) || keep < 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `keep must be a whole number of backups (0 or more); got ${JSON.stringify(keep)}`,
      )
    }
    const plan = planPrune(await listBackups(this.destination, this.#settings.name), keep)
    // Manifests go first: a backup stops being one before its data disappears.
    await this.destination.delete(plan.manifests)
    await this.destination.delete(plan.objects)
    if (plan.cutoff !== undefined) await this.destination.sweep?.(plan.cutoff)
    this.#emit({ type: 'pruned', deleted: plan.deleted, kept: plan.kept })
    return { deleted: plan.deleted, kept: plan.kept }
  }

  async restore(key: BackupSelector, options: RestoreOptions = {}): Promise<RestoreResult> {
    if (options === null || typeof options !== 'object') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'restore options must be an object such as { into, replace }',
      )
    }
    const started = performance.now()
    const id = await this.#resolve(key)
    this.#emit({ type: 'restore-started', key: id })
    const manifest = await this.#manifest(id)
    const folder = await mkdtemp(join(this.#settings.tempDir, 'engram-restore-'))
    let bytes = 0
    const report = (phase: BackupPhase, done: number, total?: number) => {
      if (phase === 'download') bytes = done
      this.#progress(id, phase, done, total)
    }
    try {
      const stored = await fetchVerified(this.destination, manifest, folder, report)
      const applied = await applyBackup(manifest, stored, options.into ?? this.#adapter, {
        replace: options.replace ?? false,
        folder,
        report,
      })
      const durationMs = Math.round(performance.now() - started)
      this.#emit({ type: 'restore-completed', key: id, durationMs })
      return { key: id, format: manifest.format, ...applied, bytes, durationMs }
    } finally {
      await rm(folder, { recursive: true, force: true }).catch(() => undefined)
    }
  }

  #afterQueue(): Promise<BackupInfo> {
    this.#queued = undefined
    return this.#run(false)
  }

  #tick(): void {
    if (this.#current !== undefined) {
      this.#emit({ type: 'backup-skipped', reason: 'the previous backup is still running' })
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
        this.#emit({
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
    this.#emit({ type: 'backup-started', key: id, attempt, scheduled })
    const format = this.#settings.format ?? defaultFormat(this.#adapter, tables)
    const folder = await mkdtemp(join(tempDir, 'engram-backup-'))
    const object = dataObjectName(id, format, compression)
    let uploaded = false
    let size = 0
    try {
      this.#progress(id, 'snapshot', 0)
      const snapshot = await takeSnapshot(this.#adapter, format, tables, folder).catch((error: unknown) => {
        throw snapshotFailure(this.#adapter, error)
      })
      const packed = await packFile(
        snapshot.file,
        join(folder, object),
        compression,
        gzipLevel,
        (bytes, total) => this.#progress(id, 'compress', bytes, total),
      )
      const metadata = { 'engram-backup': id, 'engram-sha256': packed.sha256, 'engram-format': format }
      await this.destination.put(object, packed.file, metadata, (bytes, total) =>
        this.#progress(id, 'upload', bytes, total),
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
    this.#emit({
      type: 'backup-completed',
      backup: info,
      durationMs: Math.round(performance.now() - started),
    })
    // Retention runs only after a backup is safely stored, so a failing upload never costs an old one.
    await this.prune().catch((error: unknown) =>
      this.#emit({
        type: 'prune-failed',
        error: storageFailure(error, 'QUERY_FAILED', 'Pruning old backups failed'),
      }),
    )
    return info
  }

  async #resolve(key: BackupSelector): Promise<string> {
    if (typeof key === 'string' && key !== 'latest') {
      const id = parseBackupId(key) ? key : classifyObject(key)?.id
      if (id === undefined) {
        throw new StorageError(
          'INVALID_ARGUMENT',
          `${JSON.stringify(key)} is not a backup key; list() (engram backup list) shows the keys, such as ${this.#settings.name}-20261201T120000000Z-1a2b3c`,
        )
      }
      return id
    }
    const backups = await this.list()
    if (key === 'latest') {
      const latest = backups[0]
      if (latest === undefined)
        throw new StorageError('NOT_FOUND', `There are no backups in ${this.destination.description}`)
      return latest.key
    }
    const time = key instanceof Date ? key.getTime() : key
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'restore() takes a backup key, "latest", a Date or epoch milliseconds',
      )
    }
    const match = backups.find((backup) => backup.createdAt.getTime() === time)
    if (match === undefined) {
      throw new StorageError(
        'NOT_FOUND',
        `No backup in ${this.destination.description} was taken at ${new Date(time).toISOString()}; list() shows when each was taken`,
      )
    }
    return match.key
  }

  async #manifest(id: string): Promise<BackupManifest> {
    const bytes = await this.destination.read(manifestName(id))
    if (bytes === undefined) {
      throw new StorageError(
        'NOT_FOUND',
        `Backup ${id} has no manifest in ${this.destination.description}: it was interrupted before it completed, or deleted. list() shows the complete backups`,
      )
    }
    return parseManifest(bytes, id)
  }

  #progress(key: string, phase: BackupPhase, bytes: number, total?: number): void {
    if (this.#settings.onEvent === undefined) return
    this.#emit({ type: 'progress', key, phase, bytes, ...(total === undefined ? {} : { total }) })
  }

  #emit(event: BackupEvent): void {
    try {
      this.#settings.onEvent?.(event)
    } catch (error) {
      // A broken listener must not break backups; say so once per failure on stderr.
      process.emitWarning(`@engram/backup: onEvent threw: ${errorMessage(error)}`)
    }
  }
}
