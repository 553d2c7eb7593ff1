/** A first-come, first-served async lock; single-connection drivers serialise their calls with it. */
export class Mutex {
  #locked = false
  readonly #waiters: Array<() => void> = []

  /** Whether someone holds the lock right now. */
  get locked(): boolean {
    return this.#locked
  }

  /** Takes the lock without waiting, if it is free. Returns whether it was taken. */
  tryAcquire(): boolean {
    if (this.#locked) return false
    this.#locked = true
    return true
  }

  /** Waits for the lock and takes it. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift()
    if (next) next()
    else this.#locked = false
  }
}
