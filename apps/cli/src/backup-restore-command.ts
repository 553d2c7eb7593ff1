import { fileURLToPath } from 'node:url'
import type { StorageAdapter } from '@engram/core'
import type { BackupSubcommand } from './backup-command.js'
import { say } from './command.js'
import { openDatabase, registerDrivers } from './endpoints.js'
import { formatMs } from './progress-bar.js'

/** `engram backup restore <key> <db> --to <url>`: verifies a backup and restores it. */
export const backupRestoreCommand: BackupSubcommand = {
  name: 'restore',
  summary: 'verify a backup (or "latest") and restore it into a SQLite path or a postgres:// database',
  usage:
    'engram backup restore <key|latest> <db> --to s3://bucket/prefix|file:///path [--endpoint URL] [--replace]',
  positionals: [2, 2],
  accepts: ['replace'],
  async run({ values, positionals, json, io, destination, manager }) {
    const [key, text] = positionals as [string, string]
    // An engram-jsonl backup restored to a path, or an image restored into Postgres, opens SQLite through createDatabase.
    await registerDrivers()
    const target = destination()
    const postgres = /^postgres(ql)?:\/\//i.test(text)
    const db = postgres ? await openDatabase(text) : undefined
    try {
      const into: string | StorageAdapter = db?.storage ?? filePath(text)
      const result = await manager(target, io.stderr).restore(key, { into, replace: values.replace === true })
      if (!json) {
        const where = result.method === 'file' ? result.path : text
        say(
          io.stdout,
          `Restored ${result.key} into ${where} in ${formatMs(result.durationMs)} (checksums verified).`,
        )
        for (const note of result.notes) say(io.stderr, `  note: ${note}`)
      }
      return { code: 0, result: { ok: true, ...result } }
    } finally {
      await target.close?.()
      await db?.close()
    }
  },
}

/** A SQLite path from a `<db>` argument: a path, a `file:///path` URL or `file:path`. */
function filePath(text: string): string {
  if (text.startsWith('file://')) return fileURLToPath(text)
  return text.startsWith('file:') ? text.slice('file:'.length) : text
}
