import { createRequire } from 'node:module'
import { parseArgs } from 'node:util'
import type { CliIo, Command } from './command.js'
import { say, UsageError } from './command.js'
import { COMMANDS } from './commands.js'

/** Options for `runCli`. */
export interface RunCliOptions {
  /** Where to read and write. Default is the process's stdin, stdout and stderr. */
  io?: CliIo
  /** The commands to offer. Default is `COMMANDS`. */
  commands?: readonly Command[]
}

/**
 * Runs one `engram` invocation and returns its exit code: `0` success, `1` failure, `2` a
 * usage error. With `--json`, stdout receives exactly one JSON document: the command's result,
 * or `{ "ok": false, "error": { "code", "message" } }`.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }
  const commands = options.commands ?? COMMANDS
  const json = argv.includes('--json')
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined
    say(io.stdout, topic ? commandHelp(topic) : overview(commands))
    return 0
  }
  if (name === '--version' || name === '-v') {
    say(io.stdout, version())
    return 0
  }
  const command = commands.find((c) => c.name === name)
  if (!command) return usage(io, json, `unknown command "${name}"`, overview(commands))
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (error) {
    return usage(io, json, (error as Error).message, commandHelp(command))
  }
  if (parsed.values.help) {
    say(io.stdout, commandHelp(command))
    return 0
  }
  const [least, most] = command.positionals
  if (parsed.positionals.length < least || parsed.positionals.length > most) {
    const expected = least === most ? `${least}` : `${least} to ${most}`
    return usage(
      io,
      json,
      `${name} takes ${expected} arguments, got ${parsed.positionals.length}`,
      commandHelp(command),
    )
  }
  try {
    const outcome = await command.run({
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
      json,
      io,
    })
    if (json) say(io.stdout, JSON.stringify(outcome.result, jsonValue))
    return outcome.code
  } catch (error) {
    if (error instanceof UsageError) return usage(io, json, error.message, commandHelp(command))
    const code = (error as { code?: unknown }).code
    // The reader of stdout went away (engram export db | head): stop without a message, as other tools do.
    if (code === 'EPIPE') return 1
    const message = error instanceof Error ? error.message : String(error)
    if (json)
      say(
        io.stdout,
        JSON.stringify({ ok: false, error: { code: typeof code === 'string' ? code : 'FAILED', message } }),
      )
    else say(io.stderr, `engram ${name}: ${message}`)
    return 1
  }
}

function usage(io: CliIo, json: boolean, problem: string, help: string): number {
  if (json) say(io.stdout, JSON.stringify({ ok: false, error: { code: 'USAGE', message: problem } }))
  say(io.stderr, `engram: ${problem}\n\n${help}`)
  return 2
}

function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return `engram ${version()}: move, check and inspect engram databases

usage: engram <command> [arguments] [--json]

commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

engram <command> --help shows a command's options. Databases are SQLite paths (or file: URLs) and
postgres:// URLs. Exit codes: 0 success, 1 failure, 2 usage error.`
}

function commandHelp(command: Command): string {
  return `usage: ${command.usage}\n\n${command.help}`
}

function version(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version
}

/** JSON for results that hold bigints (exact integers beyond 2^53) and blobs. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (value instanceof Error) return { name: value.name, message: value.message }
  return value
}
