import { createBackupManager } from '@engram/backup'
import { StorageError } from '@engram/core'
import type { BackupSubcommand } from './backup-command.js'
import { backupProgress } from './backup-progress.js'
import { count, nameList, say, UsageError } from './command.js'
import { openDatabase } from './endpoints.js'
import { formatMs } from './progress-bar.js'

/** `engram backup create <db> --to <url>`: takes one backup now. */
export const backupCreateCommand: BackupSubcommand = {
  name: 'create',
  summary: 'take a backup of a database now',
  usage:
    'engram backup create <db> --to s3://bucket/prefix|file:///path [--endpoint URL] [--gzip | --no-gzip] [--tables a,b] [--keep N]',
  positionals: [1, 1],
  accepts: ['gzip', 'no-gzip', 'tables', 'keep'],
  async run({ values, positionals, json, io, destination, name }) {
    if (values.gzip === true && values['no-gzip'] === true)
      throw new UsageError('--gzip and --no-gzip contradict each other')
    const tables = nameList(values.tables, '--tables')
    const keep = values.keep === undefined ? undefined : keepCount(values.keep)
    const started = performance.now()
    const db = await openDatabase(positionals[0] as string)
    const target = destination()
    try {
      if (!db.storage)
        throw new StorageError(
          'INVALID_ARGUMENT',
          'engram backup create backs up SQL databases; this is a vector store',
        )
      const manager = createBackupManager(db.storage, target, {
        compression: values['no-gzip'] === true ? 'none' : 'gzip',
        ...(tables ? { tables } : {}),
        ...(keep === undefined ? {} : { maxBackups: keep }),
        ...(name === undefined ? {} : { name }),
        onEvent: backupProgress(io.stderr, json),
      })
      const backup = await manager.runNow()
      const durationMs = performance.now() - started
      if (!json) {
        say(
          io.stdout,
          `Backed up to ${target.description}${backup.key} (${backup.format}, ${backup.compression}, ${count(backup.size)} bytes) in ${formatMs(durationMs)}.`,
        )
      }
      return { code: 0, result: { ok: true, destination: target.description, backup, durationMs } }
    } finally {
      await target.close?.()
      await db.close()
    }
  },
}

/** `--keep N`: a whole number of backups, at least 1 for create (0 is allowed for prune). */
export function keepCount(value: string | boolean | undefined, least = 1): number {
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isInteger(n) || n < least) {
    throw new UsageError(`--keep takes a whole number of backups (at least ${least}), got "${String(value)}"`)
  }
  return n
}
