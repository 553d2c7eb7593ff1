import type { BackupSubcommand } from './backup-command.js'
import { keepCount } from './backup-create-command.js'
import { say, UsageError } from './command.js'

/** `engram backup prune --keep N --to <url>`: deletes all but the newest N backups. */
export const backupPruneCommand: BackupSubcommand = {
  name: 'prune',
  summary: 'delete all but the newest N backups (and leftovers of interrupted ones)',
  usage: 'engram backup prune --keep N --to s3://bucket/prefix|file:///path [--endpoint URL]',
  positionals: [0, 0],
  accepts: ['keep'],
  async run({ values, json, io, destination, manager }) {
    if (values.keep === undefined)
      throw new UsageError('prune needs --keep N (the number of backups to keep)')
    const keep = keepCount(values.keep, 0)
    const target = destination()
    try {
      const result = await manager(target).prune({ keep })
      if (!json) say(io.stdout, `Kept ${result.kept} backups; deleted ${result.deleted.length}.`)
      return { code: 0, result: { destination: target.description, ...result } }
    } finally {
      await target.close?.()
    }
  },
}
