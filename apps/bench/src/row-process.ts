import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The argument that makes the bench's entry serve one task for its parent instead of running suites. */
export const CHILD_FLAG = '--child'

/** A progress report from a child: where it is, for a budget that stops it mid-way. */
export type Progress = Record<string, string | number>

/** What a task does in the child; `progress` reports where it is. */
type TaskHandler = (payload: never, progress: (p: Progress) => void) => Promise<unknown>

/** The tasks a child can run, each loaded only in the child that runs it. */
const TASKS: Record<string, () => Promise<TaskHandler>> = {
  'vector-row': async () => (await import('./vector-rows.js')).runVectorRow as TaskHandler,
  'scale-point': async () => (await import('./scale-point.js')).runScalePoint as TaskHandler,
}

/** Limits on a child: past either it is killed and the outcome says where it was. */
export interface ChildLimits {
  /** Wall time, in milliseconds. Default is no limit. */
  maxMs?: number
  /** Resident set size, in bytes, checked every 250 ms. Default is no limit. */
  maxRssBytes?: number
  /** Called with each progress report. */
  onProgress?: (progress: Progress) => void
}

/** How a child ended. */
export type ChildOutcome<T> =
  | {
      ok: true
      value: T
      /** The child's peak resident set over its whole life, in bytes. */
      maxRss: number
      ms: number
      /** The child's process id. */
      pid: number
    }
  | { ok: false; reason: string; lastProgress: Progress | undefined; ms: number }

type Message =
  | { type: 'result'; value: unknown; maxRss: number }
  | { type: 'error'; message: string }
  | { type: 'progress'; progress: Progress }

/**
 * Runs `task` in a new process of the bench's own entry (`main.js --child`), so the memory it
 * reports is that task's own and a crash or a runaway build cannot take the suite down. The
 * payload crosses the process boundary, so keep it small (seeds and sizes, not vectors).
 */
export function runInChild<T>(
  task: string,
  payload: unknown,
  limits: ChildLimits = {},
): Promise<ChildOutcome<T>> {
  const entry = fileURLToPath(new URL('./main.js', import.meta.url))
  const started = performance.now()
  const child = fork(entry, [CHILD_FLAG], { serialization: 'advanced', stdio: 'inherit' })
  let lastProgress: Progress | undefined
  let settled = false
  return new Promise((resolve) => {
    const finish = (outcome: ChildOutcome<T>) => {
      if (settled) return
      settled = true
      clearInterval(watch)
      clearTimeout(deadline)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      resolve(outcome)
    }
    const stop = (reason: string) =>
      finish({ ok: false, reason, lastProgress, ms: performance.now() - started })
    const deadline =
      limits.maxMs === undefined
        ? undefined
        : setTimeout(
            () => stop(`stopped at the time budget of ${Math.round((limits.maxMs as number) / 60_000)} min`),
            limits.maxMs,
          )
    const watch = setInterval(() => {
      if (limits.maxRssBytes === undefined || child.pid === undefined) return
      const rss = residentBytes(child.pid)
      if (rss !== undefined && rss > limits.maxRssBytes)
        stop(
          `stopped at the memory budget: RSS ${(rss / 2 ** 30).toFixed(1)} GiB passed ${(limits.maxRssBytes / 2 ** 30).toFixed(1)} GiB`,
        )
    }, 250)
    child.on('message', (message: Message) => {
      if (message.type === 'progress') {
        lastProgress = message.progress
        limits.onProgress?.(message.progress)
      } else if (message.type === 'result') {
        finish({
          ok: true,
          value: message.value as T,
          maxRss: message.maxRss,
          ms: performance.now() - started,
          pid: child.pid ?? 0,
        })
      } else {
        stop(message.message)
      }
    })
    child.on('error', (error) => stop(`the process failed: ${error.message}`))
    child.on('exit', (code, signal) =>
      stop(
        signal
          ? `the process was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
          : `the process exited with code ${code} before it answered`,
      ),
    )
    child.send({ task, payload })
  })
}

/** A process's resident set size from /proc, or `undefined` where there is no /proc. */
export function residentBytes(pid: number | 'self'): number | undefined {
  return procStatus(pid, 'VmRSS')
}

/** A process's peak resident set size (VmHWM) from /proc, or `undefined`. */
export function peakResidentBytes(pid: number | 'self'): number | undefined {
  return procStatus(pid, 'VmHWM')
}

function procStatus(pid: number | 'self', field: string): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/**
 * The child's side: waits for one task from the parent, runs it, sends the result with the
 * process's peak RSS, and exits. A parent that goes away takes the child with it.
 */
export async function serveChildTask(): Promise<never> {
  const send = process.send?.bind(process)
  if (!send) throw new Error(`${CHILD_FLAG} is for the bench's own child processes (it needs an IPC channel)`)
  process.on('disconnect', () => process.exit(1))
  const { task, payload } = await new Promise<{ task: string; payload: unknown }>((resolve) =>
    process.once('message', (m) => resolve(m as { task: string; payload: unknown })),
  )
  const load = TASKS[task]
  let message: Message
  try {
    if (!load) throw new Error(`no child task "${task}"`)
    const handler = await load()
    const value = await handler(payload as never, (progress) => send({ type: 'progress', progress }))
    message = { type: 'result', value, maxRss: process.resourceUsage().maxRSS * 1024 }
  } catch (error) {
    message = {
      type: 'error',
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }
  }
  await new Promise<void>((resolve) => send(message, undefined, {}, () => resolve()))
  // Exit now: a native library (LanceDB's threads, a pool not yet drained) must not keep a
  // finished child alive, and its memory goes back to the machine before the next row starts.
  process.exit(0)
}
