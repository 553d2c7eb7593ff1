import type { BackupSubcommand } from './backup-command.js'
import { count, say } from './command.js'

/** `engram backup list --to <url>`: the complete backups, newest first. */
export const backupListCommand: BackupSubcommand = {
  name: 'list',
  summary: 'list the complete backups, newest first',
  usage: 'engram backup list --to s3://bucket/prefix|file:///path [--endpoint URL]',
  positionals: [0, 0],
  accepts: [],
  async run({ json, io, destination, manager }) {
    const target = destination()
    try {
      const backups = await manager(target).list()
      if (!json) {
        if (backups.length === 0) say(io.stdout, `No backups in ${target.description}.`)
        for (const b of backups) {
          say(
            io.stdout,
            `${b.key}  ${b.createdAt.toISOString()}  ${b.format}  ${b.compression}  ${count(b.size)} bytes`,
          )
        }
      }
      return { code: 0, result: { destination: target.description, backups } }
    } finally {
      await target.close?.()
    }
  },
}
