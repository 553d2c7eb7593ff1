import { bindParams, type CompiledSql, compileSql } from './compile-sql.js'
import { normalizeRow } from './driver-value.js'
import { Mutex } from './mutex.js'
import type {
  Row,
  RunResult,
  SqlDialect,
  SqlParams,
  StorageAdapter,
  StorageCapabilities,
} from './storage-adapter.js'
import { StorageError, type StorageErrorCode } from './storage-error.js'

type MaybePromise<T> = T | Promise<T>

/**
 * The few calls a single-connection driver supplies. SQL arrives already rewritten to the
 * driver's placeholders and parameters already mapped to driver values; core does the rest.
 */
export interface SqlConnection {
  /** Runs a multi-statement script. */
  exec(sql: string): MaybePromise<void>
  /** Runs one statement and reports changes and the last rowid. */
  run(sql: string, params: unknown[]): MaybePromise<RunResult>
  /** Returns the first row or `undefined`. */
  get(sql: string, params: unknown[]): MaybePromise<Row | undefined>
  /** Returns every row. */
  all(sql: string, params: unknown[]): MaybePromise<Row[]>
  /** Opens a lazy cursor; `return()` on the iterator must release it. */
  iterate(sql: string, params: unknown[]): Iterator<Row> | AsyncIterator<Row>
  /** Closes the connection. */
  close(): MaybePromise<void>
}

/** Configuration for `createConnectionAdapter`. */
export interface ConnectionAdapterConfig {
  /** The driver's name, reported as `adapter.kind`. */
  kind: string
  /** The dialect the connection speaks. */
  dialect: SqlDialect
  /** What the connection supports. */
  capabilities: StorageCapabilities
  /** The open connection. */
  connection: SqlConnection
  /** Maps a driver error to a portable code. */
  errorCode(error: unknown): StorageErrorCode
  /** The statement that opens a transaction. Default is `'BEGIN'`. */
  beginSql?: string
  /**
   * Lets the adapter notice a transaction callback calling the outer adapter, which would
   * wait for the callback itself forever, and fail fast with a clear error instead.
   */
  asyncContext?: AsyncContext
  /**
   * Runs after every call outside a transaction and after every committed top-level
   * transaction, while the connection is still held, so nothing else can start in between;
   * the caller's promise waits for it. Drivers that save a snapshot of the database (sql.js,
   * IndexedDB) persist here: after a commit, never in the middle of a transaction.
   */
  onCommit?: () => MaybePromise<void>
  /**
   * Runs once `close()` holds the connection, before it closes. If it throws, the adapter stays
   * open and `close()` rejects with its error, so a driver with unsaved work loses nothing.
   */
  beforeClose?: () => MaybePromise<void>
}

/** One level of transaction nesting: its own lock, and whether it may still be used. */
interface Scope {
  readonly mutex: Mutex
  readonly depth: number
  readonly parent?: Scope
  active: boolean
}

/**
 * Tells which transaction callback the current async call chain is inside. Node's
 * `AsyncLocalStorage` has exactly this shape; drivers that run on Node pass one.
 */
export interface AsyncContext {
  /** Runs `fn` with `store` as the current value for everything it awaits. */
  run<T>(store: unknown, fn: () => T): T
  /** The value set by the innermost `run` around the current call, if any. */
  getStore(): unknown
}

interface Shared {
  readonly config: ConnectionAdapterConfig
  closed: boolean
  closing?: Promise<void>
}

/** The top-level lock of each adapter `createConnectionAdapter` made, for `runExclusive`. */
const exclusiveRunners = new WeakMap<StorageAdapter, <T>(work: () => MaybePromise<T>) => Promise<T>>()

/**
 * Runs `work` while holding the connection of an adapter made by `createConnectionAdapter`, so
 * it never overlaps a statement or lands inside a transaction. For drivers' own maintenance
 * (saving or replacing a database image); calling it from inside one of the adapter's own
 * transaction callbacks would wait for that transaction, as any outer call would.
 */
export function runExclusive<T>(adapter: StorageAdapter, work: () => MaybePromise<T>): Promise<T> {
  const runner = exclusiveRunners.get(adapter)
  if (runner === undefined) {
    return Promise.reject(
      new StorageError(
        'INVALID_ARGUMENT',
        'runExclusive() needs an adapter made by createConnectionAdapter()',
      ),
    )
  }
  return runner(work)
}

/**
 * Builds a `StorageAdapter` on one connection: placeholder rewriting, value rules, error
 * mapping, a mutex so concurrent calls and transactions never interleave, and savepoints
 * for nested transactions. Every single-connection driver (SQLite in its forms) uses this.
 */
export function createConnectionAdapter(config: ConnectionAdapterConfig): StorageAdapter {
  return new ConnectionAdapter({ config, closed: false }, { mutex: new Mutex(), depth: 0, active: true })
}

class ConnectionAdapter implements StorageAdapter {
  readonly kind: string
  readonly dialect: SqlDialect
  readonly capabilities: StorageCapabilities
  readonly #shared: Shared
  readonly #scope: Scope
  /** The commit hook, on the top-level adapter only (inside a transaction nothing is committed yet). */
  readonly #onCommit: (() => MaybePromise<void>) | undefined

  constructor(shared: Shared, scope: Scope) {
    this.#shared = shared
    this.#scope = scope
    this.#onCommit = scope.depth === 0 ? shared.config.onCommit : undefined
    if (scope.depth === 0) exclusiveRunners.set(this, (work) => this.#exclusive(work))
    this.kind = shared.config.kind
    this.dialect = shared.config.dialect
    this.capabilities = shared.config.capabilities
  }

  exec(sql: string): Promise<void> {
    if (typeof sql !== 'string') return Promise.reject(badSql())
    return this.#call(sql, EXEC, [])
  }

  run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#statement(sql, params, RUN)
  }

  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#statement(sql, params, GET) as Promise<T | undefined>
  }

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#statement(sql, params, ALL) as Promise<T[]>
  }

  async *iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    const { text, values } = this.#prepare(sql, params)
    await this.#acquire()
    let cursor: Iterator<Row> | AsyncIterator<Row> | undefined
    try {
      try {
        cursor = this.#shared.config.connection.iterate(text, values)
      } catch (error) {
        throw this.#error(error, sql)
      }
      while (true) {
        let step: IteratorResult<Row>
        try {
          step = await cursor.next()
        } catch (error) {
          cursor = undefined
          throw this.#error(error, sql)
        }
        if (step.done) {
          cursor = undefined
          return
        }
        yield normalizeRow(step.value) as T
      }
    } finally {
      try {
        await cursor?.return?.()
        await this.#onCommit?.()
      } finally {
        this.#scope.mutex.release()
      }
    }
  }

  async transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new StorageError('INVALID_ARGUMENT', 'transaction() needs a callback')
    await this.#acquire()
    const { connection, beginSql = 'BEGIN' } = this.#shared.config
    const depth = this.#scope.depth
    const savepoint = `engram_sp_${depth}`
    const inner: Scope = { mutex: new Mutex(), depth: depth + 1, parent: this.#scope, active: true }
    try {
      await this.#guard(depth === 0 ? beginSql : `SAVEPOINT ${savepoint}`, (sql) => connection.exec(sql))
      let result: T
      try {
        const tx = new ConnectionAdapter(this.#shared, inner)
        const context = this.#shared.config.asyncContext
        result = await (context ? context.run(inner, () => fn(tx)) : fn(tx))
        await finish(inner)
      } catch (error) {
        await finish(inner)
        // Two calls, not one script: some drivers (Capacitor on Android) run only a script's first statement.
        if (depth === 0) await this.#quietly('ROLLBACK')
        else {
          await this.#quietly(`ROLLBACK TO SAVEPOINT ${savepoint}`)
          await this.#quietly(`RELEASE SAVEPOINT ${savepoint}`)
        }
        throw error
      }
      try {
        await this.#guard(depth === 0 ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`, (sql) =>
          connection.exec(sql),
        )
      } catch (error) {
        if (depth === 0) await this.#quietly('ROLLBACK')
        throw error
      }
      await this.#onCommit?.()
      return result
    } finally {
      inner.active = false
      this.#scope.mutex.release()
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
    shared.closing = (async () => {
      await this.#scope.mutex.acquire()
      try {
        try {
          await shared.config.beforeClose?.()
        } catch (error) {
          shared.closing = undefined
          throw error
        }
        shared.closed = true
        await shared.config.connection.close()
      } finally {
        this.#scope.mutex.release()
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
    try {
      this.#checkOpen()
      if (typeof sql !== 'string') throw badSql()
      compiled = compileSql(sql, this.dialect)
      values = bindParams(compiled, params, this.dialect)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#call(compiled.text, op, values, sql)
  }

  /**
   * Runs one operation under this scope's lock. When the lock is free and the driver answers
   * synchronously (better-sqlite3, sql.js), the whole call costs one resolved promise.
   */
  #call<R>(text: string, op: Operation<R>, values: unknown[], sql = text): Promise<R> {
    const mutex = this.#scope.mutex
    if (this.#shared.closed || this.#shared.closing || !this.#scope.active) {
      return Promise.reject(this.#unusable())
    }
    if (!mutex.tryAcquire()) return this.#queued(text, op, values, sql)
    if (this.#onCommit) return this.#locked(text, op, values, sql)
    let result: MaybePromise<unknown>
    try {
      result = op.call(this.#shared.config.connection, text, values)
    } catch (error) {
      mutex.release()
      return Promise.reject(this.#error(error, sql))
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
        throw this.#error(error, sql)
      },
    )
  }

  /** The slow path of `#call`: wait for the lock first. */
  async #queued<R>(text: string, op: Operation<R>, values: unknown[], sql: string): Promise<R> {
    await this.#acquire()
    return this.#locked(text, op, values, sql)
  }

  /** Runs one operation, and the commit hook if there is one, then releases the lock it was given. */
  async #locked<R>(text: string, op: Operation<R>, values: unknown[], sql: string): Promise<R> {
    try {
      let value: R
      try {
        value = op.finish(await op.call(this.#shared.config.connection, text, values))
      } catch (error) {
        throw this.#error(error, sql)
      }
      await this.#onCommit?.()
      return value
    } finally {
      this.#scope.mutex.release()
    }
  }

  async #exclusive<T>(work: () => MaybePromise<T>): Promise<T> {
    await this.#acquire()
    try {
      return await work()
    } finally {
      this.#scope.mutex.release()
    }
  }

  /** Takes this scope's lock, then checks the adapter and the scope are still usable. */
  async #acquire(): Promise<void> {
    this.#checkOpen()
    const mutex = this.#scope.mutex
    if (mutex.tryAcquire()) return
    this.#checkNotSelfWaiting()
    await mutex.acquire()
    try {
      this.#checkOpen(true)
    } catch (error) {
      mutex.release()
      throw error
    }
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

  /** Throws unless usable; a call queued before `close()` (`queued`) still runs. */
  #checkOpen(queued = false): void {
    if (this.#shared.closed || (!queued && this.#shared.closing) || !this.#scope.active)
      throw this.#unusable()
  }

  #unusable(): StorageError {
    if (this.#shared.closed || this.#shared.closing)
      return new StorageError('CLOSED', `The ${this.kind} adapter is closed`)
    return new StorageError(
      'CLOSED',
      'This transaction has already finished; use the adapter outside its callback',
    )
  }

  async #guard(sql: string, call: (sql: string) => MaybePromise<void>): Promise<void> {
    try {
      await call(sql)
    } catch (error) {
      throw this.#error(error, sql)
    }
  }

  /** Runs a rollback whose own failure must never hide the error that caused it. */
  async #quietly(sql: string): Promise<void> {
    try {
      await this.#shared.config.connection.exec(sql)
    } catch {
      // The transaction may already be gone (SQLite rolls back on some errors by itself).
    }
  }

  #error(error: unknown, sql: string): StorageError {
    if (error instanceof StorageError) return error
    const message = error instanceof Error ? error.message : String(error)
    return new StorageError(this.#shared.config.errorCode(error), message, { cause: error, sql })
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

/** Waits for calls still running in a finished callback's scope, then turns the scope off. */
async function finish(scope: Scope): Promise<void> {
  await scope.mutex.acquire()
  scope.active = false
  scope.mutex.release()
}

function badSql(): StorageError {
  return new StorageError('INVALID_ARGUMENT', 'SQL must be a string')
}
