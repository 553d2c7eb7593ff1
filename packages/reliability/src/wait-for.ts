/**
 * Polls `probe` until it returns a value other than `undefined`, and returns that value; fails
 * with `what` after `timeoutMs`. For conditions only another process can report (such as a
 * backend waiting on a lock in `pg_stat_activity`), which no event announces.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
