import { StorageError } from '@engram/core'

/** A Web Lock held until `release()` is called. */
export interface HeldLock {
  /** Lets the next waiter (in this tab or another) take the lock. Calling it again does nothing. */
  release(): void
}

/**
 * Waits for the exclusive Web Lock `name` and keeps it across any number of calls, rather than
 * for one callback as `LockManager.request` does.
 */
export function holdLock(locks: LockManager, name: string): Promise<HeldLock> {
  return new Promise<HeldLock>((granted, failed) => {
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    locks
      .request(name, { mode: 'exclusive' }, () => {
        granted({ release })
        return held
      })
      .catch((error: unknown) =>
        failed(
          new StorageError(
            'BUSY',
            `Could not take the Web Lock "${name}" that keeps tabs from overwriting each other: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          ),
        ),
      )
  })
}
