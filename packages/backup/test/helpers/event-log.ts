import type { BackupEvent } from '../../src/index.js'

type Of<T extends BackupEvent['type']> = Extract<BackupEvent, { type: T }>

/** Collects a manager's events and lets a test wait for one, without timers. */
export class EventLog {
  readonly events: BackupEvent[] = []
  #waiters: Array<{ match: (e: BackupEvent) => boolean; resolve: (e: BackupEvent) => void }> = []

  /** Pass as `onEvent`. */
  readonly onEvent = (event: BackupEvent): void => {
    this.events.push(event)
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(event)) return true
      w.resolve(event)
      return false
    })
  }

  /** Events of one type, in order (progress left out unless asked for). */
  of<T extends BackupEvent['type']>(type: T): Of<T>[] {
    return this.events.filter((e): e is Of<T> => e.type === type)
  }

  /** Resolves with the `count`-th event of `type` (counting those already seen). */
  waitFor<T extends BackupEvent['type']>(type: T, count = 1): Promise<Of<T>> {
    const seen = this.of(type)
    if (seen.length >= count) return Promise.resolve(seen[count - 1] as Of<T>)
    let remaining = count - seen.length
    return new Promise((resolve) => {
      this.#waiters.push({
        match: (e) => e.type === type && --remaining === 0,
        resolve: (e) => resolve(e as Of<T>),
      })
    })
  }
}
