import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** A message a worker sends its parent: an acknowledged write, or why it stopped. */
export interface WorkerMessage {
  /** What the worker wrote and committed before sending this; the parent may rely on it being stored. */
  ack?: unknown
  /** The worker failed on its own; the text says why. */
  failed?: string
}

/** How one worker process ended. */
export interface KilledWorker {
  /** Every acknowledgement the parent received before the kill, in order. */
  readonly acks: unknown[]
  /** `'SIGKILL'` when the parent killed it, as intended. */
  readonly signal: NodeJS.Signals | null
  /** The exit code when it ended by itself (a failure). */
  readonly code: number | null
  /** What it wrote to stderr, for failure messages. */
  readonly stderr: string
}

/** Milliseconds a worker may go without acknowledging anything before the round fails. */
const SILENCE_LIMIT = 60_000

/** The absolute path of one of this package's worker scripts (`src/workers/<name>.mjs`). */
export function workerPath(name: string): string {
  return fileURLToPath(new URL(`./workers/${name}.mjs`, import.meta.url))
}

/** When to kill: after so many acknowledgements, plus a delay that moves the kill inside the next write. */
export interface KillPoint {
  /** Acknowledgements to wait for. */
  afterAcks: number
  /** Milliseconds to wait after the last of them; a random fraction of one write's duration. */
  delayMs: number
}

/** A random kill point: 1 to `maxAcks` acknowledgements, then 0 to `maxDelayMs` milliseconds. */
export function randomKillPoint(random: () => number, maxAcks: number, maxDelayMs = 8): KillPoint {
  return { afterAcks: 1 + Math.floor(random() * maxAcks), delayMs: random() * maxDelayMs }
}

/**
 * Starts a worker script, counts the writes it acknowledges over IPC, and kills it with SIGKILL
 * at `point`: once enough acknowledgements arrived and the delay has passed, so the kill lands
 * at a random moment of a later write (between its statements, inside a commit, mid-file-save).
 * Resolves once the process is gone.
 */
export function runUntilKilled(
  worker: string,
  args: readonly string[],
  point: KillPoint,
): Promise<KilledWorker> {
  const killAfter = point.afterAcks
  const child: ChildProcess = fork(worker, [...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  const acks: unknown[] = []
  let stderr = ''
  let failed = false
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  return new Promise((resolve, reject) => {
    let silence = setTimeout(stall, SILENCE_LIMIT)
    function stall(): void {
      stderr += `\n(the worker acknowledged nothing for ${SILENCE_LIMIT} ms)`
      child.kill('SIGKILL')
    }
    child.on('message', (message: WorkerMessage) => {
      if (message.failed !== undefined) {
        failed = true
        stderr += `\n${message.failed}`
        child.kill('SIGKILL')
        return
      }
      if (!('ack' in message) || child.signalCode !== null) return
      acks.push(message.ack)
      clearTimeout(silence)
      silence = setTimeout(stall, SILENCE_LIMIT)
      if (acks.length === killAfter) setTimeout(() => child.kill('SIGKILL'), point.delayMs)
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(silence)
      const ended = { acks, signal, code, stderr }
      if (signal === 'SIGKILL' && acks.length >= killAfter && !failed) resolve(ended)
      else
        reject(
          new Error(
            `The worker ${worker} stopped after ${acks.length} acknowledgements (code ${code}, signal ${signal}): ${stderr.trim()}`,
          ),
        )
    })
  })
}
