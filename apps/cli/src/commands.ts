import { backupCommand } from './backup-command.js'
import type { Command } from './command.js'
import { doctorCommand } from './doctor-command.js'
import { exportCommand } from './export-command.js'
import { importCommand } from './import-command.js'
import { migrateCommand } from './migrate-command.js'
import { statsCommand } from './stats-command.js'
import { verifyCommand } from './verify-command.js'

/** Every `engram` command, in the order `engram --help` lists them. A new command is one file and one entry here. */
export const COMMANDS: readonly Command[] = [
  migrateCommand,
  exportCommand,
  importCommand,
  verifyCommand,
  statsCommand,
  backupCommand,
  doctorCommand,
]
