/** One pending or granted request. */
interface LockRequest {
  readonly name: string
  readonly mode: LockMode
  grant(): void
}

/**
 * A Web Locks `LockManager` that lives in this JavaScript realm only, for runtimes without
 * `navigator.locks` (Node, test runners, some webviews). Adapters given the same instance
 * exclude each other exactly as tabs do through `navigator.locks`; it cannot coordinate
 * separate processes or tabs. Supports `mode`, `ifAvailable` and `signal`; not `steal`.
 *
 * @example
 * const locks = new LocalLockManager()
 * const a = await createIndexedDbAdapter({ name: 'app', indexedDB, locks })
 * const b = await createIndexedDbAdapter({ name: 'app', indexedDB, locks })
 */
export class LocalLockManager implements LockManager {
  readonly #held = new Map<string, LockRequest[]>()
  readonly #pending = new Map<string, LockRequest[]>()

  /** Waits for the lock `name`, runs `callback` holding it, and releases it when the callback's promise settles. */
  request<T>(name: string, callback: LockGrantedCallback<T>): Promise<T>
  /** As above, with `mode` (`'exclusive'` by default or `'shared'`), `ifAvailable` or `signal`. */
  request<T>(name: string, options: LockOptions, callback: LockGrantedCallback<T>): Promise<T>
  request<T>(
    name: string,
    optionsOrCallback: LockOptions | LockGrantedCallback<T>,
    maybeCallback?: LockGrantedCallback<T>,
  ): Promise<T> {
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback
    const options: LockOptions = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {})
    if (typeof callback !== 'function') return Promise.reject(new TypeError('request() needs a callback'))
    if (options.steal) return Promise.reject(new TypeError('LocalLockManager does not support steal'))
    const { signal } = options
    if (signal?.aborted) return Promise.reject(signal.reason)
    const mode: LockMode = options.mode ?? 'exclusive'
    name = String(name)

    return new Promise<T>((resolve, reject) => {
      const run = (lock: Lock | null, done: () => void): void => {
        let result: T
        try {
          result = callback(lock)
        } catch (error) {
          done()
          reject(error)
          return
        }
        // The lock is held until the callback's promise settles; the caller sees that promise's outcome.
        Promise.resolve(result).then(
          (value) => {
            done()
            resolve(value as T)
          },
          (error: unknown) => {
            done()
            reject(error)
          },
        )
      }
      const request: LockRequest = {
        name,
        mode,
        grant: () => {
          signal?.removeEventListener('abort', abort)
          this.#list(this.#held, name).push(request)
          run({ name, mode }, () => this.#release(request))
        },
      }
      const abort = (): void => {
        const queue = this.#list(this.#pending, name)
        const index = queue.indexOf(request)
        if (index < 0) return
        queue.splice(index, 1)
        reject(signal?.reason)
        this.#grantWaiting(name)
      }
      const queued = this.#pending.get(name)?.length ?? 0
      if (options.ifAvailable && (queued > 0 || !this.#grantable(name, mode))) {
        run(null, () => undefined)
        return
      }
      signal?.addEventListener('abort', abort, { once: true })
      this.#list(this.#pending, name).push(request)
      this.#grantWaiting(name)
    })
  }

  /** Reports the locks held and waited for, as `navigator.locks.query()` does. */
  async query(): Promise<LockManagerSnapshot> {
    const describe = (lists: Map<string, LockRequest[]>): LockInfo[] =>
      [...lists.values()].flat().map(({ name, mode }) => ({ name, mode, clientId: 'local' }))
    return { held: describe(this.#held), pending: describe(this.#pending) }
  }

  #list(lists: Map<string, LockRequest[]>, name: string): LockRequest[] {
    let list = lists.get(name)
    if (!list) {
      list = []
      lists.set(name, list)
    }
    return list
  }

  /** Whether a request of `mode` is compatible with the locks held on `name` now. */
  #grantable(name: string, mode: LockMode): boolean {
    const held = this.#held.get(name) ?? []
    return mode === 'exclusive' ? held.length === 0 : held.every((r) => r.mode === 'shared')
  }

  /** Grants queued requests in order for as long as each is compatible with what is held. */
  #grantWaiting(name: string): void {
    const queue = this.#pending.get(name)
    while (queue && queue.length > 0) {
      const next = queue[0] as LockRequest
      if (!this.#grantable(name, next.mode)) break
      queue.shift()
      next.grant()
    }
    if (queue?.length === 0) this.#pending.delete(name)
  }

  #release(request: LockRequest): void {
    const held = this.#held.get(request.name) ?? []
    held.splice(held.indexOf(request), 1)
    if (held.length === 0) this.#held.delete(request.name)
    this.#grantWaiting(request.name)
  }
}
