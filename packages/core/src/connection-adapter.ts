import { bindParams, type CompiledSql, compileSql } from './compile-sql.js'
import { normalizeRow } from './driver-value.js'
import { Mutex } from './mutex.js'
import type { AsyncContext, MaybePromise, SqlConnection, SqlConnectionPool } from './sql-connection.js'
import type {
  Row,
  RunResult,
  SqlDialect,
  SqlParams,
  StorageAdapter,
  StorageCapabilities,
} from './storage-adapter.js'
import { StorageError, type StorageErrorCode } from './storage-error.js'

/**
 * Configuration for `createConnectionAdapter`. A single-connection driver gives `connection`
 * and `capabilities.concurrency: 'single'`; a pooled driver gives `pool` and `'pool'`.
 */
export interface ConnectionAdapterConfig {
  /** The driver's name, reported as `adapter.kind`. */
  kind: string
  /** The dialect the connection speaks. */
  dialect: SqlDialect
  /** What the driver supports; `concurrency` decides whether calls share one connection or a pool. */
  capabilities: StorageCapabilities
  /** The open connection, for `concurrency: 'single'`. */
  connection?: SqlConnection
  /** The connection pool, for `concurrency: 'pool'`. */
  pool?: SqlConnectionPool
  /** Maps a driver error to a portable code. */
  errorCode(error: unknown): StorageErrorCode
  /**
   * Whether an error means the connection itself is gone (a terminated backend, a reset
   * socket). Such errors are `CONNECTION_FAILED` whatever `errorCode` says, and a pooled
   * connection that saw one is discarded. Default is never.
   */
  connectionLost?(error: unknown): boolean
  /** The statement that opens a transaction. Default is `'BEGIN'`. */
  beginSql?: string
  /**
   * Commits the open transaction. Default runs `COMMIT`. PostgreSQL answers a COMMIT of an
   * aborted transaction with a silent rollback, so its driver checks the reply and throws.
   */
  commit?(connection: SqlConnection): MaybePromise<void>
  /**
   * Lets the adapter notice a transaction callback calling the outer adapter, which would
   * wait for the callback itself forever, and fail fast with a clear error instead. Only
   * single-connection drivers need it: a pooled adapter runs such a call on another connection.
   */
  asyncContext?: AsyncContext
  /**
   * Runs after every call outside a transaction and after every committed top-level
   * transaction, while the connection is still held, so nothing else can start in between;
   * the caller's promise waits for it. Drivers that save a snapshot of the database (sql.js,
   * IndexedDB) persist here: after a commit, never in the middle of a transaction.
   * Single-connection drivers only.
   */
  onCommit?: () => MaybePromise<void>
  /**
   * Whether the connection's `get` and `all` already return rows in the contract's shape
   * (integers within ±(2^53-1) as numbers, blobs as plain `Uint8Array`), so the engine does not
   * walk every row again. Rows from `iterate` are always normalised. Default is `false`.
   */
  rowsNormalized?: boolean
  /**
   * Runs once `close()` has waited for every earlier call, before the connection or pool
   * closes. If it throws, the adapter stays open and `close()` rejects with its error, so a
   * driver with unsaved work loses nothing.
   */
  beforeClose?: () => MaybePromise<void>
}

/** A connection in use by one call or one transaction, and the connection-level failure it met, if any. */
interface Lease {
  readonly connection: SqlConnection
  failure: unknown
}

/**
 * One level of transaction nesting: its own lock (a connection runs one statement at a time)
 * and whether it may still be used. The root scope of a pooled adapter has no lease: each of
 * its calls checks a connection out of the pool.
 */
interface Scope {
  readonly mutex: Mutex
  readonly depth: number
  readonly parent?: Scope
  readonly lease: Lease | undefined
  active: boolean
}

interface Shared {
  readonly config: ConnectionAdapterConfig
  readonly pool: SqlConnectionPool | undefined
  closed: boolean
  closing?: Promise<void>
  /** Root-level calls of a pooled adapter still running, which `close()` waits for. */
  running: number
  idle: (() => void) | undefined
}

/** The top-level lock of each single-connection adapter `createConnectionAdapter` made, for `runExclusive`. */
const exclusiveRunners = new WeakMap<StorageAdapter, <T>(work: () => MaybePromise<T>) => Promise<T>>()

/**
 * Runs `work` while holding the connection of a single-connection adapter made by
 * `createConnectionAdapter`, so it never overlaps a statement or lands inside a transaction.
 * For drivers' own maintenance (saving or replacing a database image); calling it from inside
 * one of the adapter's own transaction callbacks would wait for that transaction, as any outer call would.
 */
export function runExclusive<T>(adapter: StorageAdapter, work: () => MaybePromise<T>): Promise<T> {
  const runner = exclusiveRunners.get(adapter)
  if (runner === undefined) {
    return Promise.reject(
      new StorageError(
        'INVALID_ARGUMENT',
        'runExclusive() needs a single-connection adapter made by createConnectionAdapter()',
      ),
    )
  }
  return runner(work)
}

/**
 * Builds a `StorageAdapter` from a driver's connection (or pool): placeholder rewriting, value
 * rules, error mapping, savepoints for nested transactions, the rule that calls outside a
 * transaction never run inside it, and an orderly `close()`. Single-connection drivers
 * serialise every call with a lock; pooled drivers run root calls in parallel, each on a
 * connection of its own, and pin one connection to each transaction.
 */
export function createConnectionAdapter(config: ConnectionAdapterConfig): StorageAdapter {
  const pooled = config.capabilities.concurrency === 'pool'
  if (pooled ? config.pool === undefined : config.connection === undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      pooled
        ? 'createConnectionAdapter: concurrency "pool" needs a pool'
        : 'createConnectionAdapter: concurrency "single" needs a connection',
    )
  }
  if (pooled && config.onCommit !== undefined) {
    throw new StorageError('INVALID_ARGUMENT', 'onCommit is only for single-connection drivers')
  }
  const shared: Shared = {
    config,
    pool: pooled ? config.pool : undefined,
    closed: false,
    running: 0,
    idle: undefined,
  }
  const lease = pooled ? undefined : { connection: config.connection as SqlConnection, failure: undefined }
  return new ConnectionAdapter(shared, { mutex: new Mutex(), depth: 0, lease, active: true })
}

class ConnectionAdapter implements StorageAdapter {
  readonly kind: string
  readonly dialect: SqlDialect
  readonly capabilities: StorageCapabilities
  readonly #shared: Shared
  readonly #scope: Scope
  /** The commit hook, on the top-level adapter only (inside a transaction nothing is committed yet). */
  readonly #onCommit: (() => MaybePromise<void>) | undefined
  readonly #get: Operation<Row | undefined>
  readonly #all: Operation<Row[]>

  constructor(shared: Shared, scope: Scope) {
    this.#shared = shared
    this.#scope = scope
    this.#onCommit = scope.depth === 0 ? shared.config.onCommit : undefined
    const ready = shared.config.rowsNormalized === true
    this.#get = ready ? GET_READY : GET
    this.#all = ready ? ALL_READY : ALL
    if (scope.depth === 0 && scope.lease !== undefined) {
      exclusiveRunners.set(this, (work) => this.#exclusive(work))
    }
    this.kind = shared.config.kind
    this.dialect = shared.config.dialect
    this.capabilities = shared.config.capabilities
  }

  exec(sql: string): Promise<void> {
    if (!this.#usable()) return Promise.reject(this.#unusable())
    if (typeof sql !== 'string') return Promise.reject(badSql())
    return this.#call(sql, EXEC, [])
  }

  run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#statement(sql, params, RUN)
  }

  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#statement(sql, params, this.#get) as Promise<T | undefined>
  }

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#statement(sql, params, this.#all) as Promise<T[]>
  }

  async *iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    const { text, values } = this.#prepare(sql, params)
    const lease = this.#tryHold() ?? (await this.#hold())
    let cursor: Iterator<Row> | AsyncIterator<Row> | undefined
    try {
      try {
        cursor = lease.connection.iterate(text, values)
      } catch (error) {
        throw this.#fail(lease, error, sql)
      }
      while (true) {
        let step: IteratorResult<Row>
        try {
          step = await cursor.next()
        } catch (error) {
          cursor = undefined
          throw this.#fail(lease, error, sql)
        }
        if (step.done) {
          cursor = undefined
          return
        }
        yield normalizeRow(step.value) as T
      }
    } finally {
      try {
        await this.#closeCursor(lease, cursor, sql)
        if (lease.failure === undefined) await this.#onCommit?.()
      } finally {
        this.#unhold(lease)
      }
    }
  }

  /**
   * Runs `fn` in a transaction (a savepoint when nested). On a synchronous driver whose lock is
   * free, opening and ending it cost no promise of their own: the only awaits are the
   * callback's and, for snapshot drivers, the commit hook.
   */
  async transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new StorageError('INVALID_ARGUMENT', 'transaction() needs a callback')
    const lease = this.#tryHold() ?? (await this.#hold())
    const { beginSql = 'BEGIN', commit, asyncContext } = this.#shared.config
    const depth = this.#scope.depth
    const savepoint = depth === 0 ? '' : `engram_sp_${depth}`
    const inner: Scope = { mutex: new Mutex(), depth: depth + 1, parent: this.#scope, lease, active: true }
    try {
      const begun = this.#control(lease, depth === 0 ? beginSql : `SAVEPOINT ${savepoint}`)
      if (begun !== undefined) await begun
      let result: T
      try {
        const tx = new ConnectionAdapter(this.#shared, inner)
        result = await (asyncContext ? asyncContext.run(inner, () => fn(tx)) : fn(tx))
        const finished = finish(inner)
        if (finished !== undefined) await finished
      } catch (error) {
        const finished = finish(inner)
        if (finished !== undefined) await finished
        // Two calls, not one script: some drivers (Capacitor on Android) run only a script's first statement.
        if (depth === 0) await this.#quietly(lease, 'ROLLBACK')
        else {
          await this.#quietly(lease, `ROLLBACK TO SAVEPOINT ${savepoint}`)
          await this.#quietly(lease, `RELEASE SAVEPOINT ${savepoint}`)
        }
        throw error
      }
      try {
        const ended =
          depth > 0
            ? this.#control(lease, `RELEASE SAVEPOINT ${savepoint}`)
            : commit === undefined
              ? this.#control(lease, 'COMMIT')
              : this.#guard(lease, 'COMMIT', () => commit(lease.connection))
        if (ended !== undefined) await ended
      } catch (error) {
        if (depth === 0) await this.#quietly(lease, 'ROLLBACK')
        throw error
      }
      if (this.#onCommit) await this.#onCommit()
      return result
    } finally {
      inner.active = false
      this.#unhold(lease)
    }
  }

  async close(): Promise<void> {
    if (this.#scope.depth > 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'A transaction handle cannot be closed; the transaction ends with its callback',
      )
    }
    const shared = this.#shared
    if (shared.closing) return shared.closing
    const single = this.#scope.lease
    shared.closing = (async () => {
      // Calls made before close() finish first: queued on the lock, or running on pooled connections.
      if (single) await this.#scope.mutex.acquire()
      else if (shared.running > 0) await new Promise<void>((resolve) => (shared.idle = resolve))
      try {
        try {
          await shared.config.beforeClose?.()
        } catch (error) {
          shared.closing = undefined
          throw error
        }
        shared.closed = true
        if (single) await single.connection.close?.()
        else await shared.pool?.close()
      } finally {
        if (single) this.#scope.mutex.release()
      }
    })()
    return shared.closing
  }

  #prepare(sql: string, params: SqlParams | undefined): { text: string; values: unknown[] } {
    this.#checkOpen()
    if (typeof sql !== 'string') throw badSql()
    const compiled = compileSql(sql, this.dialect)
    return { text: compiled.text, values: bindParams(compiled, params, this.dialect) }
  }

  #statement<R>(sql: string, params: SqlParams | undefined, op: Operation<R>): Promise<R> {
    let compiled: CompiledSql
    let values: unknown[]
    if (!this.#usable()) return Promise.reject(this.#unusable())
    try {
      if (typeof sql !== 'string') throw badSql()
      compiled = compileSql(sql, this.dialect)
      values = bindParams(compiled, params, this.dialect)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#call(compiled.text, op, values, sql)
  }

  /**
   * Runs one operation under this scope's lock; the caller has checked the adapter is usable.
   * When the lock is free and the driver answers synchronously (better-sqlite3, sql.js), the
   * whole call costs one resolved promise.
   */
  #call<R>(text: string, op: Operation<R>, values: unknown[], sql = text): Promise<R> {
    const scope = this.#scope
    const lease = scope.lease
    if (lease === undefined) return this.#pooled(text, op, values, sql)
    const mutex = scope.mutex
    if (!mutex.tryAcquire()) return this.#queued(lease, text, op, values, sql)
    if (this.#onCommit) return this.#locked(lease, text, op, values, sql)
    let result: MaybePromise<unknown>
    try {
      result = op.call(lease.connection, text, values)
    } catch (error) {
      mutex.release()
      return Promise.reject(this.#fail(lease, error, sql))
    }
    if (!(result instanceof Promise)) {
      mutex.release()
      return Promise.resolve(op.finish(result))
    }
    return result.then(
      (value) => {
        mutex.release()
        return op.finish(value)
      },
      (error: unknown) => {
        mutex.release()
        throw this.#fail(lease, error, sql)
      },
    )
  }

  /** The slow path of `#call`: wait for the lock first. */
  async #queued<R>(lease: Lease, text: string, op: Operation<R>, values: unknown[], sql: string): Promise<R> {
    await this.#acquire()
    return this.#locked(lease, text, op, values, sql)
  }

  /** Runs one operation, and the commit hook if there is one, then releases the lock it was given. */
  async #locked<R>(lease: Lease, text: string, op: Operation<R>, values: unknown[], sql: string): Promise<R> {
    try {
      let value: R
      try {
        value = op.finish(await op.call(lease.connection, text, values))
      } catch (error) {
        throw this.#fail(lease, error, sql)
      }
      await this.#onCommit?.()
      return value
    } finally {
      this.#scope.mutex.release()
    }
  }

  /** A root-level call of a pooled adapter: one connection from the pool, for this statement only. */
  async #pooled<R>(text: string, op: Operation<R>, values: unknown[], sql: string): Promise<R> {
    this.#enter()
    try {
      const lease = await this.#checkOut()
      try {
        return op.finish(await op.call(lease.connection, text, values))
      } catch (error) {
        throw this.#fail(lease, error, sql)
      } finally {
        this.#checkIn(lease)
      }
    } finally {
      this.#leave()
    }
  }

  /**
   * Takes the connection a cursor or transaction runs on without waiting: this scope's own
   * when its lock is free. `undefined` means `#hold` must wait (or check one out of the pool).
   */
  #tryHold(): Lease | undefined {
    const lease = this.#scope.lease
    if (lease === undefined || !this.#usable()) return undefined
    return this.#scope.mutex.tryAcquire() ? lease : undefined
  }

  /**
   * Takes the connection a cursor or transaction runs on: this scope's own under its lock, or,
   * at the root of a pooled adapter, one from the pool. `#unhold` gives it back.
   */
  async #hold(): Promise<Lease> {
    const lease = this.#scope.lease
    if (lease !== undefined) {
      const waiting = this.#acquire()
      if (waiting !== undefined) await waiting
      return lease
    }
    this.#enter()
    try {
      return await this.#checkOut()
    } catch (error) {
      this.#leave()
      throw error
    }
  }

  /** Gives back what `#tryHold` or `#hold` took. */
  #unhold(lease: Lease): void {
    if (this.#scope.lease !== undefined) {
      this.#scope.mutex.release()
      return
    }
    this.#checkIn(lease)
    this.#leave()
  }

  async #checkOut(): Promise<Lease> {
    const pool = this.#shared.pool as SqlConnectionPool
    try {
      return { connection: await pool.acquire(), failure: undefined }
    } catch (error) {
      if (error instanceof StorageError) throw error
      const message = error instanceof Error ? error.message : String(error)
      throw new StorageError('CONNECTION_FAILED', message, { cause: error })
    }
  }

  #checkIn(lease: Lease): void {
    ;(this.#shared.pool as SqlConnectionPool).release(lease.connection, lease.failure)
  }

  /** Counts a root-level pooled call as running, so `close()` waits for it; `#leave` ends it. */
  #enter(): void {
    this.#checkOpen()
    this.#shared.running++
  }

  #leave(): void {
    const shared = this.#shared
    if (--shared.running === 0) shared.idle?.()
  }

  async #exclusive<T>(work: () => MaybePromise<T>): Promise<T> {
    await this.#acquire()
    try {
      return await work()
    } finally {
      this.#scope.mutex.release()
    }
  }

  /**
   * Takes this scope's lock, then checks the adapter and the scope are still usable. Returns
   * `undefined` when the lock was free (taken at once), else a promise to wait for.
   */
  #acquire(): Promise<void> | undefined {
    this.#checkOpen()
    const mutex = this.#scope.mutex
    if (mutex.tryAcquire()) return undefined
    this.#checkNotSelfWaiting()
    return mutex.acquire().then(() => {
      try {
        this.#checkOpen(true)
      } catch (error) {
        mutex.release()
        throw error
      }
    })
  }

  /**
   * Throws when the caller is inside a transaction callback opened on this very scope: it
   * would wait for a lock that its own callback holds, forever.
   */
  #checkNotSelfWaiting(): void {
    let scope = this.#shared.config.asyncContext?.getStore() as Scope | undefined
    for (; scope !== undefined; scope = scope.parent) {
      if (scope.parent === this.#scope && scope.active) {
        throw new StorageError(
          'INVALID_ARGUMENT',
          'This call was made on the outer adapter from inside its own transaction callback and would wait for that transaction forever; use the tx handle passed to the callback',
        )
      }
    }
  }

  /**
   * Whether a new call may start: the scope is still active, and the adapter is open. While
   * `close()` waits, transactions that were already running may finish their work.
   */
  #usable(queued = false): boolean {
    const shared = this.#shared
    if (shared.closed || !this.#scope.active) return false
    return queued || this.#scope.depth > 0 || shared.closing === undefined
  }

  /** Throws unless usable; a call queued before `close()` (`queued`) still runs. */
  #checkOpen(queued = false): void {
    if (!this.#usable(queued)) throw this.#unusable()
  }

  #unusable(): StorageError {
    if (this.#scope.active || this.#scope.depth === 0)
      return new StorageError('CLOSED', `The ${this.kind} adapter is closed`)
    return new StorageError(
      'CLOSED',
      'This transaction has already finished; use the adapter outside its callback',
    )
  }

  /** Runs a transaction-control statement on the lease's connection; `undefined` when it finished synchronously. */
  #control(lease: Lease, sql: string): Promise<void> | undefined {
    let result: MaybePromise<void>
    try {
      result = lease.connection.exec(sql)
    } catch (error) {
      throw this.#fail(lease, error, sql)
    }
    return result instanceof Promise ? this.#mapFailure(lease, result, sql) : undefined
  }

  /** Runs `call`, mapping its error; returns a promise only when the driver answered with one. */
  #guard(lease: Lease, sql: string, call: () => MaybePromise<void>): Promise<void> | undefined {
    let result: MaybePromise<void>
    try {
      result = call()
    } catch (error) {
      throw this.#fail(lease, error, sql)
    }
    return result instanceof Promise ? this.#mapFailure(lease, result, sql) : undefined
  }

  #mapFailure(lease: Lease, pending: Promise<void>, sql: string): Promise<void> {
    return pending.then(undefined, (error: unknown) => {
      throw this.#fail(lease, error, sql)
    })
  }

  /**
   * Runs a rollback whose own failure must never hide the error that caused it. On a pooled
   * connection a failed rollback may have left a transaction open, so the connection is retired.
   */
  async #quietly(lease: Lease, sql: string): Promise<void> {
    try {
      await lease.connection.exec(sql)
    } catch (error) {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
      if (this.#shared.pool !== undefined) lease.failure ??= error
    }
  }

  /** Releases a cursor the loop left early; a connection that is gone needs no release. */
  async #closeCursor(
    lease: Lease,
    cursor: Iterator<Row> | AsyncIterator<Row> | undefined,
    sql: string,
  ): Promise<void> {
    if (cursor?.return === undefined) return
    try {
      await cursor.return()
    } catch (error) {
      const failure = this.#fail(lease, error, sql)
      if (lease.failure === undefined) throw failure
    }
  }

  /** Maps a driver error, remembering a connection-level one so the connection is not reused. */
  #fail(lease: Lease, error: unknown, sql: string): StorageError {
    if (!(error instanceof StorageError) && this.#shared.config.connectionLost?.(error)) {
      lease.failure ??= error
    }
    return this.#error(error, sql)
  }

  #error(error: unknown, sql: string): StorageError {
    if (error instanceof StorageError) return error
    const { errorCode, connectionLost } = this.#shared.config
    const message = error instanceof Error ? error.message : String(error)
    const code = connectionLost?.(error) ? 'CONNECTION_FAILED' : errorCode(error)
    return new StorageError(code, message, { cause: error, sql })
  }
}

/** One kind of call on the connection, and how its raw result becomes the contract's. */
interface Operation<R> {
  call(connection: SqlConnection, text: string, values: unknown[]): MaybePromise<unknown>
  finish(result: unknown): R
}

const EXEC: Operation<void> = {
  call: (connection, text) => connection.exec(text),
  finish: () => undefined,
}
const RUN: Operation<RunResult> = {
  call: (connection, text, values) => connection.run(text, values),
  finish: (result) => result as RunResult,
}
const GET: Operation<Row | undefined> = {
  call: (connection, text, values) => connection.get(text, values),
  finish: (row) => (row === undefined ? undefined : normalizeRow(row as Row)),
}
const ALL: Operation<Row[]> = {
  call: (connection, text, values) => connection.all(text, values),
  finish: (result) => {
    const rows = result as Row[]
    for (let i = 0; i < rows.length; i++) normalizeRow(rows[i] as Row)
    return rows
  },
}
/** `get` and `all` for drivers whose rows already follow the value rules (`rowsNormalized`). */
const GET_READY: Operation<Row | undefined> = {
  call: (connection, text, values) => connection.get(text, values),
  finish: (row) => row as Row | undefined,
}
const ALL_READY: Operation<Row[]> = {
  call: (connection, text, values) => connection.all(text, values),
  finish: (rows) => rows as Row[],
}

/**
 * Turns a finished callback's scope off once the calls still running in it are done: at once
 * when none is (the usual case), else after waiting for them (the returned promise).
 */
function finish(scope: Scope): Promise<void> | undefined {
  if (scope.mutex.tryAcquire()) {
    scope.active = false
    scope.mutex.release()
    return undefined
  }
  return scope.mutex.acquire().then(() => {
    scope.active = false
    scope.mutex.release()
  })
}

function badSql(): StorageError {
  return new StorageError('INVALID_ARGUMENT', 'SQL must be a string')
}
