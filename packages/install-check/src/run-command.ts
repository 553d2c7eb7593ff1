import { spawn } from 'node:child_process'

/** How `runCommand` ended. */
export interface CommandResult {
  /** The exit code; `null` when it was killed. */
  readonly code: number | null
  /** Its standard output. */
  readonly stdout: string
  /** Its standard error. */
  readonly stderr: string
  /** Whether it was killed for running past `timeoutMs`. */
  readonly timedOut: boolean
  /** How long it ran, in milliseconds. */
  readonly ms: number
}

/** Options of `runCommand`. */
export interface RunCommandOptions {
  /** The working directory. */
  readonly cwd: string
  /** The whole environment of the process (nothing is inherited). */
  readonly env: NodeJS.ProcessEnv
  /** Milliseconds after which the command and everything it started is killed. Default is 600,000. */
  readonly timeoutMs?: number
}

/**
 * Runs a command without a shell and collects its output. It runs in its own process group, so
 * a timeout also ends what it started (compilers under npm, a server a snippet left running).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<CommandResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, options.timeoutMs ?? 600_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      // Whatever the command left behind in its group goes with it.
      killGroup(child.pid)
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        ms: Math.round(performance.now() - started),
      })
    })
  })
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // The group is already gone.
  }
}

/** The end of a command's output, for an error message: the last `lines` lines of stderr and stdout. */
export function outputTail(result: Pick<CommandResult, 'stdout' | 'stderr'>, lines = 40): string {
  const text = `${result.stderr.trim()}\n${result.stdout.trim()}`.trim()
  return text.split('\n').slice(-lines).join('\n')
}

/**
 * A failed run's output for an error message: the start of stderr, where Node prints the error
 * and its message, then the end of stdout.
 */
export function failureExcerpt(result: Pick<CommandResult, 'stdout' | 'stderr'>, lines = 25): string {
  const stderr = result.stderr.trim().split('\n').slice(0, lines).join('\n')
  const stdout = result.stdout.trim().split('\n').slice(-10).join('\n')
  return [stderr, stdout === '' ? '' : `(stdout) ${stdout}`].filter((part) => part !== '').join('\n')
}
