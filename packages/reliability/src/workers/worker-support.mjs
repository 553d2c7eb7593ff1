// Shared by the kill -9 workers: a seeded generator, acknowledgements over IPC, and failure reports.

/** A deterministic generator (mulberry32) seeded per round, so a failing round can be replayed. */
export function seeded(seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Tells the parent a write is committed; only called after the write's promise resolved. */
export function ack(value) {
  process.send?.({ ack: value })
}

/** Runs the worker's loop; any failure is reported to the parent, which fails the round with it. */
export async function runWorker(loop) {
  try {
    await loop()
  } catch (error) {
    process.send?.({ failed: `${error?.code ?? ''} ${error?.stack ?? error}` })
    // Stay alive until the parent kills this process, so the message is never lost in an exit.
    setInterval(() => {}, 1000)
  }
}
