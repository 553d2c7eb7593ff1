import { type BackupCatalog, type BackupDestination, createBackupCatalog } from '@engram/backup'
import { backupCreateCommand } from './backup-create-command.js'
import { backupDestinationFromUrl } from './backup-destination-url.js'
import { backupListCommand } from './backup-list-command.js'
import { backupProgress } from './backup-progress.js'
import { backupPruneCommand } from './backup-prune-command.js'
import { backupRestoreCommand } from './backup-restore-command.js'
import type { Command, CommandContext, CommandOutcome } from './command.js'
import { UsageError } from './command.js'
import type { ProgressStream } from './progress-bar.js'

/** What a backup subcommand's `run` receives, besides the usual context. */
export interface BackupContext extends CommandContext {
  /** Opens the destination `--to` (or `$ENGRAM_BACKUP_TO`) names; the subcommand closes it. */
  destination(): BackupDestination
  /** The backups in a destination, reporting progress on `progress` when given. */
  manager(destination: BackupDestination, progress?: ProgressStream): BackupCatalog
  /** `--name`: which backups in the destination are meant. */
  readonly name: string | undefined
}

/** One `engram backup <name>` subcommand, in its own file. */
export interface BackupSubcommand {
  /** The name typed after `engram backup`. */
  readonly name: string
  /** One line for `engram backup --help`. */
  readonly summary: string
  /** Its usage line. */
  readonly usage: string
  /** Positional arguments after the subcommand's name: `[least, most]`. */
  readonly positionals: readonly [number, number]
  /** The options of the group it uses besides the shared ones (`--to`, `--endpoint`, `--region`, `--name`). */
  readonly accepts: readonly string[]
  /** Runs it. Throw `UsageError` for a wrong invocation. */
  run(context: BackupContext): Promise<CommandOutcome>
}

const SUBCOMMANDS: readonly BackupSubcommand[] = [
  backupCreateCommand,
  backupListCommand,
  backupRestoreCommand,
  backupPruneCommand,
]

const SHARED = ['to', 'from', 'endpoint', 'region', 'name']

/** `engram backup create|list|restore|prune`: checksummed backups to S3, R2, MinIO or a folder. */
export const backupCommand: Command = {
  name: 'backup',
  summary: 'take, list, restore and prune checksummed backups in S3, R2, MinIO or a folder',
  usage:
    'engram backup <create|list|restore|prune> [arguments] --to <s3://bucket/prefix | file:///path> [--json]',
  help: `${SUBCOMMANDS.map((s) => `  ${s.usage}\n      ${s.summary}`).join('\n')}

Every backup is a consistent snapshot (SQLite: the whole file; Postgres: engram's JSON Lines
export in one snapshot), hashed with sha256 and stored with a manifest; restore checks both
before it changes anything. See docs/backup.md.

  --to URL            where the backups are: s3://bucket/prefix, file:///path or a folder path
                      (--from means the same; default $ENGRAM_BACKUP_TO)
  --endpoint URL      an S3-compatible service: R2, MinIO (path-style addressing is used)
  --region R          the S3 region (default $AWS_REGION, else us-east-1; R2 takes auto)
  --name N            the backups' name, the first part of every key (default engram)
  --gzip, --no-gzip   create: compress with gzip (the default) or store as it is
  --tables a,b        create: only these tables (a logical engram-jsonl backup)
  --keep N            create: keep the newest N afterwards; prune: how many to keep
  --replace           restore: replace an existing file or tables of the same names
  --json              print one JSON result and nothing else on stdout

S3 credentials come from the AWS SDK's usual places: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
a profile, or a role. Exit codes: 0 success, 1 failure (such as a corrupt backup), 2 usage error.`,
  positionals: [1, 3],
  options: {
    to: { type: 'string' },
    from: { type: 'string' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    name: { type: 'string' },
    gzip: { type: 'boolean' },
    'no-gzip': { type: 'boolean' },
    tables: { type: 'string' },
    keep: { type: 'string' },
    replace: { type: 'boolean' },
  },
  async run(context) {
    const [sub, ...positionals] = context.positionals
    const command = SUBCOMMANDS.find((s) => s.name === sub)
    if (command === undefined) {
      throw new UsageError(
        `unknown backup command "${sub}"; use ${SUBCOMMANDS.map((s) => s.name).join(', ')}`,
      )
    }
    const [least, most] = command.positionals
    if (positionals.length < least || positionals.length > most) {
      const expected = least === most ? `${least}` : `${least} to ${most}`
      throw new UsageError(
        `backup ${command.name} takes ${expected} arguments, got ${positionals.length}: ${command.usage}`,
      )
    }
    for (const [option, value] of Object.entries(context.values)) {
      if (value === undefined || option === 'json' || option === 'help') continue
      if (!SHARED.includes(option) && !command.accepts.includes(option)) {
        throw new UsageError(`backup ${command.name} does not take --${option}`)
      }
    }
    const { values } = context
    if (values.to !== undefined && values.from !== undefined)
      throw new UsageError('give --to or --from, not both')
    const to = (values.to ?? values.from ?? process.env.ENGRAM_BACKUP_TO) as string | undefined
    if (to === undefined || to === '') {
      throw new UsageError(
        `backup ${command.name} needs --to <s3://bucket/prefix | file:///path> (or $ENGRAM_BACKUP_TO)`,
      )
    }
    const text = (flag: string) => (values[flag] === undefined ? undefined : String(values[flag]))
    const name = text('name')
    const endpoint = text('endpoint')
    const region = text('region')
    return command.run({
      ...context,
      positionals,
      name,
      destination: () =>
        backupDestinationFromUrl({
          to,
          ...(endpoint === undefined ? {} : { endpoint }),
          ...(region === undefined ? {} : { region }),
        }),
      manager: (destination, progress) =>
        createBackupCatalog(destination, {
          ...(name === undefined ? {} : { name }),
          ...(progress === undefined ? {} : { onEvent: backupProgress(progress, context.json) }),
        }),
    })
  },
}
