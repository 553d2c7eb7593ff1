export {
  type CliIo,
  type Command,
  type CommandContext,
  type CommandOutcome,
  type OutputStream,
  UsageError,
} from './command.js'
export { COMMANDS } from './commands.js'
export type { DoctorCheck } from './doctor-command.js'
export { VECTOR_STORE_SCHEMES } from './endpoints.js'
export { formatMs, ProgressBar, type ProgressBarOptions, type ProgressStream } from './progress-bar.js'
export { type RunCliOptions, runCli } from './run-cli.js'
