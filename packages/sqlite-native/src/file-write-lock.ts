import { realpathSync } from 'node:fs'

interface Waiter {
  grant(): void
  timer: ReturnType<typeof setTimeout>
}

/**
 * The write lock of one database file, shared by every adapter this process opens on it.
 *
 * SQLite's own busy handler waits synchronously. Two adapters on one file in one process would
 * freeze the event loop for the whole busy timeout: the writer that holds the lock can only
 * finish once the loop runs again, which the waiting writer prevents. Writers of the same
 * process therefore queue here, asynchronously; SQLite's busy handler is left to deal with
 * other processes only.
 */
export class FileWriteLock {
  #held = false
  readonly #waiters: Waiter[] = []

  /** Takes the lock if it is free. */
  tryAcquire(): boolean {
    if (this.#held) return false
    this.#held = true
    return true
  }

  /** Waits up to `timeoutMs` for the lock; resolves `false` (without the lock) when the time runs out. */
  acquire(timeoutMs: number): Promise<boolean> {
    if (this.tryAcquire()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer)
          resolve(true)
        },
        timer: setTimeout(() => {
          const at = this.#waiters.indexOf(waiter)
          if (at >= 0) this.#waiters.splice(at, 1)
          resolve(false)
        }, timeoutMs),
      }
      this.#waiters.push(waiter)
    })
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift()
    if (next) next.grant()
    else this.#held = false
  }
}

const locks = new Map<string, { lock: FileWriteLock; users: number }>()

/** The write lock of the file at `path` (resolved through symlinks), shared process-wide; call `unref` when done with it. */
export function fileWriteLock(path: string): { lock: FileWriteLock; unref(): void } {
  const key = realpathSync(path)
  let entry = locks.get(key)
  if (entry === undefined) {
    entry = { lock: new FileWriteLock(), users: 0 }
    locks.set(key, entry)
  }
  entry.users++
  const shared = entry
  let released = false
  return {
    lock: shared.lock,
    unref() {
      if (released) return
      released = true
      if (--shared.users === 0) locks.delete(key)
    },
  }
}
