/** The longest wait between attempts. */
const MAX_DELAY = 60_000

/** The wait before retry number `attempt` (1 for the first): `first`, doubled for each later one, at most a minute. */
export function backoffDelay(first: number, attempt: number): number {
  return Math.min(MAX_DELAY, first * 2 ** (attempt - 1))
}

/**
 * Waits `ms`. Resolves `true` when the time is up, `false` at once when `signal` is (or becomes)
 * aborted. Unless `keepAlive`, the timer does not keep the process alive.
 */
export function pause(ms: number, signal: AbortSignal, keepAlive: boolean): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    if (!keepAlive) timer.unref()
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
