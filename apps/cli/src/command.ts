import type { Writable } from 'node:stream'
import type { ParseArgsConfig } from 'node:util'
import type { ProgressStream } from './progress-bar.js'

/** A stream a command writes to: Node's stdout or stderr, or any writable that may be a terminal. */
export type OutputStream = Writable & { readonly isTTY?: boolean }

/** Where a command writes: results to `stdout`, progress and messages to `stderr`. */
export interface CliIo {
  /** Results (and, for `engram export` without `-o`, the export itself). */
  readonly stdout: OutputStream
  /** Progress bars, notes and errors. */
  readonly stderr: OutputStream
  /** Standard input, for `engram import <db> -`. */
  readonly stdin: AsyncIterable<Uint8Array | string>
}

/** What a command's `run` receives. */
export interface CommandContext {
  /** The parsed options, by long name. */
  readonly values: Readonly<Record<string, string | boolean | undefined>>
  /** The positional arguments after the command's name. */
  readonly positionals: readonly string[]
  /** `--json`: print exactly one JSON result on stdout and nothing else there. */
  readonly json: boolean
  /** Where to write. */
  readonly io: CliIo
}

/** What a command returns: its exit code and the result `--json` prints. */
export interface CommandOutcome {
  /** `0` success, `1` failure (including a verification that found differences). */
  readonly code: 0 | 1
  /** The machine-readable result. */
  readonly result: unknown
}

/**
 * One `engram` command. Each lives in its own file and is listed in `COMMANDS`; a new command
 * group (such as `backup`) is one more file and one more entry there.
 */
export interface Command {
  /** The name typed after `engram`. */
  readonly name: string
  /** One line for `engram --help`. */
  readonly summary: string
  /** The usage line, such as `engram stats <db> [--json]`. */
  readonly usage: string
  /** What `engram <name> --help` prints below the usage line. */
  readonly help: string
  /** How many positional arguments it takes: `[least, most]`. */
  readonly positionals: readonly [number, number]
  /** Its options for `node:util` parseArgs (`--json` and `--help` are added for every command). */
  readonly options: NonNullable<ParseArgsConfig['options']>
  /** Runs the command. Throw `UsageError` for a wrong invocation, anything else for a failure. */
  run(context: CommandContext): Promise<CommandOutcome>
}

/** A wrong invocation: exit code 2 and the command's usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** A positive integer option, or `undefined` when it was not given. */
export function positiveInteger(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isInteger(n) || n <= 0) {
    throw new UsageError(`${flag} takes a positive whole number, got "${String(value)}"`)
  }
  return n
}

/** A comma-separated list option, or `undefined`. */
export function nameList(value: string | boolean | undefined, flag: string): string[] | undefined {
  if (value === undefined) return undefined
  const names = String(value)
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0)
  if (typeof value !== 'string' || names.length === 0)
    throw new UsageError(`${flag} takes a comma-separated list of names`)
  return names
}

/** The `--on-conflict` option. */
export function conflictPolicy(
  value: string | boolean | undefined,
): 'error' | 'skip' | 'replace' | undefined {
  if (value === undefined) return undefined
  if (value === 'error' || value === 'skip' || value === 'replace') return value
  throw new UsageError(`--on-conflict takes error, skip or replace, got "${String(value)}"`)
}

/** Writes a line to a stream. */
export function say(stream: ProgressStream, line = ''): void {
  stream.write(`${line}\n`)
}

/** A number with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US')
}
