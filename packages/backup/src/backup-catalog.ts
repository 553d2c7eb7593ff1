import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { booleanOption, StorageError } from '@engram/core'
import type { BackupDestination } from './backup-destination.js'
import type { BackupEvent, BackupInfo, BackupPhase } from './backup-events.js'
import { listBackups, type PruneResult, planPrune } from './backup-listing.js'
import { type BackupManifest, parseManifest } from './backup-manifest.js'
import {
  checkBackupName,
  classifyObject,
  DEFAULT_BACKUP_NAME,
  manifestName,
  parseBackupId,
} from './backup-names.js'
import { type RestoreOptions, type RestoreResult, restoreBackup } from './restore-backup.js'
import { errorMessage } from './storage-failure.js'

/** Which backup `restore()` means: its key (id), `'latest'`, or the time it was taken (a Date or epoch milliseconds). */
export type BackupSelector = string | number | Date

/** Options for `createBackupCatalog`. */
export interface BackupCatalogOptions {
  /** Only backups whose ids start with this name. Default is `'engram'`. */
  readonly name?: string
  /** Receives progress, prune and restore events. An error it throws becomes a process warning. */
  readonly onEvent?: (event: BackupEvent) => void
  /** Where downloads are staged. Default is the system's temporary folder. */
  readonly tempDir?: string
}

/** The backups in a destination: list, restore and prune them, with no database needed. */
export interface BackupCatalog {
  /** Where the backups are. */
  readonly destination: BackupDestination
  /** The complete backups (those with a manifest), newest first, fetched page by page. */
  list(): Promise<BackupInfo[]>
  /**
   * Verifies a backup (length and sha256 against its manifest) and only then restores it
   * `into` a SQLite path or an adapter; a corrupt or truncated one is refused before anything changes.
   */
  restore(
    key: BackupSelector,
    options: RestoreOptions & { readonly into: RestoreOptions['into'] & {} },
  ): Promise<RestoreResult>
  /** Deletes complete backups beyond `keep`, oldest first, and leftovers of interrupted ones older than every kept backup. */
  prune(options: { keep: number }): Promise<PruneResult>
}

/**
 * Opens the backups that a destination holds, for listing, restoring and pruning without the
 * database they came from (what `engram backup list|restore|prune` use).
 *
 * @example
 * const catalog = createBackupCatalog(s3Destination({ bucket: 'agent-backups' }))
 * await catalog.restore('latest', { into: './restored.db' })
 */
export function createBackupCatalog(
  destination: BackupDestination,
  options: BackupCatalogOptions = {},
): BackupCatalog {
  if (!destination || typeof destination.list !== 'function' || typeof destination.read !== 'function') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createBackupCatalog needs a destination: folderDestination(path) or s3Destination({ bucket, … })',
    )
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'onEvent must be a function (event) => void')
  }
  return new Catalog(
    destination,
    checkBackupName(options.name ?? DEFAULT_BACKUP_NAME),
    options.onEvent,
    options.tempDir ?? tmpdir(),
  )
}

/** The catalog, also the part of a `BackupManager` that reads and prunes what is stored. */
export class Catalog implements BackupCatalog {
  readonly destination: BackupDestination
  readonly #name: string
  readonly #onEvent: ((event: BackupEvent) => void) | undefined
  readonly #tempDir: string

  constructor(
    destination: BackupDestination,
    name: string,
    onEvent: ((event: BackupEvent) => void) | undefined,
    tempDir: string,
  ) {
    this.destination = destination
    this.#name = name
    this.#onEvent = onEvent
    this.#tempDir = tempDir
  }

  async list(): Promise<BackupInfo[]> {
    return (await listBackups(this.destination, this.#name)).complete
  }

  async prune(options: { keep: number }): Promise<PruneResult> {
    const keep = options?.keep
    if (!Number.isInteger(keep) || keep < 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `keep must be a whole number of backups (0 or more); got ${JSON.stringify(keep)}`,
      )
    }
    const plan = planPrune(await listBackups(this.destination, this.#name), keep)
    // Manifests go first: a backup stops being one before its data disappears.
    await this.destination.delete(plan.manifests)
    await this.destination.delete(plan.objects)
    if (plan.cutoff !== undefined) await this.destination.sweep?.(plan.cutoff)
    this.emit({ type: 'pruned', deleted: plan.deleted, kept: plan.kept })
    return { deleted: plan.deleted, kept: plan.kept }
  }

  async restore(key: BackupSelector, options: RestoreOptions): Promise<RestoreResult> {
    if (options === null || typeof options !== 'object' || options.into === undefined) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'restore needs { into: <a SQLite file path or a StorageAdapter> }',
      )
    }
    const started = performance.now()
    const id = await this.#resolve(key)
    this.emit({ type: 'restore-started', key: id })
    const manifest = await this.#manifest(id)
    const folder = await mkdtemp(join(this.#tempDir, 'engram-restore-'))
    let bytes = 0
    const report = (phase: BackupPhase, done: number, total?: number) => {
      if (phase === 'download') bytes = done
      this.progress(id, phase, done, total)
    }
    try {
      const applied = await restoreBackup(this.destination, manifest, options.into, {
        replace: booleanOption(options.replace, false, 'replace'),
        folder,
        report,
      })
      const durationMs = Math.round(performance.now() - started)
      this.emit({ type: 'restore-completed', key: id, durationMs })
      return { key: id, format: manifest.format, ...applied, bytes, durationMs }
    } finally {
      await rm(folder, { recursive: true, force: true }).catch(() => undefined)
    }
  }

  /** Reports bytes moved in a phase, when anyone listens. */
  progress(key: string, phase: BackupPhase, bytes: number, total?: number): void {
    if (this.#onEvent === undefined) return
    this.emit({ type: 'progress', key, phase, bytes, ...(total === undefined ? {} : { total }) })
  }

  /** Hands an event to `onEvent`; a listener that throws never breaks a backup. */
  emit(event: BackupEvent): void {
    try {
      this.#onEvent?.(event)
    } catch (error) {
      process.emitWarning(`@engram/backup: onEvent threw: ${errorMessage(error)}`)
    }
  }

  async #resolve(key: BackupSelector): Promise<string> {
    if (typeof key === 'string' && key !== 'latest') {
      // An object's full key (with the destination's prefix) names the same backup as its name.
      const name = key.slice(key.lastIndexOf('/') + 1)
      const id = parseBackupId(name) ? name : classifyObject(name)?.id
      if (id === undefined) {
        throw new StorageError(
          'INVALID_ARGUMENT',
          `${JSON.stringify(key)} is not a backup key; list() (engram backup list) shows the keys, such as ${this.#name}-20261201T120000000Z-1a2b3c`,
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
}
