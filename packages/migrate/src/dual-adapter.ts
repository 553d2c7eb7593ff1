import {
  booleanOption,
  type Row,
  type RunResult,
  type SqlParams,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
} from '@engram/core'
import { stableJson } from './table-checksum.js'

/** Something the two databases of a dual adapter disagreed on. */
export interface Discrepancy {
  /** `'secondary-error'`: the secondary failed where the primary succeeded; `'changes'`: they changed different numbers of rows; `'result'`: a write returned different rows; `'read'`: a compared read returned different rows. */
  readonly kind: 'secondary-error' | 'changes' | 'result' | 'read'
  /** The adapter method. */
  readonly method: 'exec' | 'run' | 'get' | 'all' | 'iterate' | 'transaction' | 'commit'
  /** The statement, when there was one. */
  readonly sql?: string
  /** Its parameters. */
  readonly params?: SqlParams
  /** What the primary returned (a change count, rows). */
  readonly primary?: unknown
  /** What the secondary returned. */
  readonly secondary?: unknown
  /** The secondary's error, for `'secondary-error'`. */
  readonly error?: unknown
}

/** Options for `createDualAdapter`. */
export interface DualAdapterConfig {
  /** The database whose writes must succeed: its failure fails the call, and the secondary is not written. */
  primary: StorageAdapter
  /** The database every write is mirrored to, after the primary. */
  secondary: StorageAdapter
  /** Which database answers reads. Default is `'primary'`. */
  readFrom?: 'primary' | 'secondary'
  /** Called with each disagreement. Default writes one line to `console.warn`. */
  onDiscrepancy?: (discrepancy: Discrepancy) => void
  /** Fail the call when the secondary fails (after the primary succeeded). Default is `false`: the primary's result stands. */
  failOnSecondaryError?: boolean
  /** Also run reads on the other database and report differing rows (slower; for checking before the switch). Default is `false`. */
  compareReads?: boolean
  /**
   * The dialect the adapter reports, which code that branches on `dialect` uses to choose its
   * SQL. Default is `'sqlite'` when either database is SQLite (its statements are the ones both
   * run, for engram's own code), `'postgres'` otherwise.
   */
  dialect?: StorageAdapter['dialect']
}

/** Counters a dual adapter keeps, for dashboards during a cutover. */
export interface DualAdapterStats {
  /** Writes mirrored to the secondary. */
  readonly mirrored: number
  /** Disagreements reported. */
  readonly discrepancies: number
  /** Of those, how many were secondary failures. */
  readonly secondaryErrors: number
}

/** A `StorageAdapter` that writes to two databases and reads from one. */
export interface DualAdapter extends StorageAdapter {
  /** What it has counted so far. */
  readonly stats: DualAdapterStats
}

/** Thrown inside the secondary's transaction to roll it back once it went wrong; never escapes. */
class SecondaryRollback extends Error {}

/**
 * A `StorageAdapter` for moving a live application between databases: every write (`exec`,
 * `run`, and statements other than SELECT sent through `get`/`all`) goes to the primary and then
 * to the secondary; reads go to `readFrom`. A secondary failure never fails the call (unless
 * `failOnSecondaryError`), it is reported. Transactions run on both: the primary's commits
 * first, then the secondary's, and a secondary that failed inside the transaction is rolled
 * back and reported while the primary's work stands. Application SQL must be valid on both
 * dialects (`?` placeholders, portable types), and the two databases must start equal
 * (create schemas on each side, and copy with `migrate`, before writing through it).
 *
 * `close()` closes neither database; close them yourself.
 *
 * @example
 * // Phase 1 of a cutover: both are written, the old one answers.
 * const db = createDualAdapter({ primary: sqlite, secondary: postgres, onDiscrepancy: (d) => log.warn(d) })
 */
export function createDualAdapter(config: DualAdapterConfig): DualAdapter {
  if (typeof config !== 'object' || config === null || !config.primary || !config.secondary) {
    throw new StorageError('INVALID_ARGUMENT', 'createDualAdapter needs { primary, secondary }')
  }
  const readFrom = config.readFrom ?? 'primary'
  if (readFrom !== 'primary' && readFrom !== 'secondary') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `readFrom must be 'primary' or 'secondary', got ${JSON.stringify(readFrom)}`,
    )
  }
  booleanOption(config.failOnSecondaryError, false, 'failOnSecondaryError')
  booleanOption(config.compareReads, false, 'compareReads')
  const stats = { mirrored: 0, discrepancies: 0, secondaryErrors: 0 }
  const report =
    config.onDiscrepancy ??
    ((d: Discrepancy) =>
      console.warn(`engram dual adapter: ${d.kind} on ${d.method}${d.sql ? ` (${d.sql.slice(0, 80)})` : ''}`))
  const state: DualState = {
    config,
    readFrom,
    stats,
    report(discrepancy) {
      stats.discrepancies++
      if (discrepancy.kind === 'secondary-error') stats.secondaryErrors++
      try {
        report(discrepancy)
      } catch {
        // A failing reporter must not turn a successful write into a failed one.
      }
    },
    closed: false,
  }
  return new DualStorageAdapter(state, config.primary, config.secondary, true)
}

interface DualState {
  readonly config: DualAdapterConfig
  readonly readFrom: 'primary' | 'secondary'
  readonly stats: { mirrored: number; discrepancies: number; secondaryErrors: number }
  report(discrepancy: Discrepancy): void
  closed: boolean
}

class DualStorageAdapter implements DualAdapter {
  readonly kind = 'dual'
  readonly dialect: StorageAdapter['dialect']
  readonly capabilities: StorageCapabilities
  readonly #state: DualState
  readonly #primary: StorageAdapter
  readonly #secondary: StorageAdapter
  readonly #root: boolean
  /** Inside a transaction: the secondary failed, so it is no longer written and will be rolled back. */
  #secondaryBroken = false

  constructor(state: DualState, primary: StorageAdapter, secondary: StorageAdapter, root: boolean) {
    this.#state = state
    this.#primary = primary
    this.#secondary = secondary
    this.#root = root
    this.dialect =
      state.config.dialect ??
      (primary.dialect === 'sqlite' || secondary.dialect === 'sqlite' ? 'sqlite' : primary.dialect)
    this.capabilities = combine(primary.capabilities, secondary.capabilities)
  }

  get stats(): DualAdapterStats {
    return { ...this.#state.stats }
  }

  async exec(sql: string): Promise<void> {
    this.#checkOpen()
    await this.#primary.exec(sql)
    await this.#mirror('exec', sql, undefined, (db) => db.exec(sql))
  }

  async run(sql: string, params?: SqlParams): Promise<RunResult> {
    this.#checkOpen()
    const result = await this.#primary.run(sql, params)
    await this.#mirror(
      'run',
      sql,
      params,
      (db) => db.run(sql, params),
      (other) => {
        if (other.changes !== result.changes) {
          this.#state.report({
            kind: 'changes',
            method: 'run',
            sql,
            params,
            primary: result.changes,
            secondary: other.changes,
          })
        }
      },
    )
    return result
  }

  async get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    this.#checkOpen()
    if (isWrite(sql)) {
      const row = await this.#primary.get<T>(sql, params)
      await this.#mirror(
        'get',
        sql,
        params,
        (db) => db.get<T>(sql, params),
        (other) => this.#compare('result', 'get', sql, params, row, other),
      )
      return row
    }
    const row = await this.#reader.get<T>(sql, params)
    if (this.#state.config.compareReads && !this.#secondaryBroken) {
      const other = await this.#other
        .get<T>(sql, params)
        .catch((error: unknown) => this.#failed('get', sql, params, error))
      if (other !== FAILED) this.#compare('read', 'get', sql, params, row, other)
    }
    return row
  }

  async all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    this.#checkOpen()
    if (isWrite(sql)) {
      const rows = await this.#primary.all<T>(sql, params)
      await this.#mirror(
        'all',
        sql,
        params,
        (db) => db.all<T>(sql, params),
        (other) => this.#compare('result', 'all', sql, params, rows, other),
      )
      return rows
    }
    const rows = await this.#reader.all<T>(sql, params)
    if (this.#state.config.compareReads && !this.#secondaryBroken) {
      const other = await this.#other
        .all<T>(sql, params)
        .catch((error: unknown) => this.#failed('all', sql, params, error))
      if (other !== FAILED) this.#compare('read', 'all', sql, params, rows, other)
    }
    return rows
  }

  iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    this.#checkOpen()
    if (isWrite(sql)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'A dual adapter streams reads only; run writes with run(), get() or all()',
      )
    }
    return this.#reader.iterate<T>(sql, params)
  }

  async transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    this.#checkOpen()
    if (this.#secondaryBroken) return this.#primaryOnly(fn)
    let secondaryBegan = false
    let primaryDone = false
    let result: T | undefined
    let childBroken = (): boolean => false
    try {
      // The primary's transaction runs inside the secondary's, so the primary commits first and a
      // primary that fails (in fn or at its commit) rolls the secondary back too.
      return await this.#secondary.transaction(async (stx) => {
        secondaryBegan = true
        result = await this.#primary.transaction(async (ptx) => {
          const child = new DualStorageAdapter(this.#state, ptx, stx, false)
          childBroken = () => child.#secondaryBroken
          return fn(child)
        })
        primaryDone = true
        if (childBroken()) throw new SecondaryRollback()
        return result
      })
    } catch (error) {
      if (!secondaryBegan) {
        // The secondary could not begin, so nothing was written anywhere: the primary goes on alone.
        this.#failed('transaction', undefined, undefined, error)
        if (this.#state.config.failOnSecondaryError) throw error
        return this.#primaryOnly(fn)
      }
      if (!primaryDone) throw error
      // The primary committed; the secondary rolled back (it had failed) or failed to commit.
      if (!this.#root) this.#secondaryBroken = true
      if (!(error instanceof SecondaryRollback)) {
        this.#failed('commit', undefined, undefined, error)
        if (this.#state.config.failOnSecondaryError) throw error
      }
      return result as T
    }
  }

  async close(): Promise<void> {
    if (this.#root) this.#state.closed = true
  }

  get #reader(): StorageAdapter {
    // Inside a transaction whose secondary failed, only the primary still sees the work.
    return this.#state.readFrom === 'primary' || this.#secondaryBroken ? this.#primary : this.#secondary
  }

  get #other(): StorageAdapter {
    return this.#state.readFrom === 'primary' ? this.#secondary : this.#primary
  }

  async #primaryOnly<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    return this.#primary.transaction(async (ptx) => {
      const child = new DualStorageAdapter(this.#state, ptx, this.#secondary, false)
      child.#secondaryBroken = true
      return fn(child)
    })
  }

  async #mirror<R>(
    method: Discrepancy['method'],
    sql: string,
    params: SqlParams | undefined,
    write: (db: StorageAdapter) => Promise<R>,
    check?: (result: R) => void,
  ): Promise<void> {
    if (this.#secondaryBroken) return
    let result: R
    try {
      result = await write(this.#secondary)
    } catch (error) {
      if (!this.#root) this.#secondaryBroken = true
      this.#failed(method, sql, params, error)
      if (this.#state.config.failOnSecondaryError) throw error
      return
    }
    this.#state.stats.mirrored++
    check?.(result)
  }

  #failed(
    method: Discrepancy['method'],
    sql: string | undefined,
    params: SqlParams | undefined,
    error: unknown,
  ): typeof FAILED {
    this.#state.report({
      kind: 'secondary-error',
      method,
      ...(sql === undefined ? {} : { sql }),
      ...(params === undefined ? {} : { params }),
      error,
    })
    return FAILED
  }

  #compare(
    kind: 'result' | 'read',
    method: Discrepancy['method'],
    sql: string,
    params: SqlParams | undefined,
    primary: unknown,
    secondary: unknown,
  ): void {
    if (sameRows(primary, secondary)) return
    this.#state.report({ kind, method, sql, ...(params === undefined ? {} : { params }), primary, secondary })
  }

  #checkOpen(): void {
    if (this.#state.closed) throw new StorageError('CLOSED', 'The dual adapter is closed')
  }
}

const FAILED = Symbol('failed')

/** Whether a statement sent through `get`/`all`/`iterate` changes data (INSERT … RETURNING and the like). */
function isWrite(sql: string): boolean {
  const text = sql
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, "''")
    .trim()
  const first = /^[A-Za-z]+/.exec(text)?.[0]?.toUpperCase()
  if (
    first === 'SELECT' ||
    first === 'VALUES' ||
    first === 'TABLE' ||
    first === 'SHOW' ||
    first === 'EXPLAIN'
  ) {
    return false
  }
  if (first === 'PRAGMA') return text.includes('=')
  if (first === 'WITH') return /\b(INSERT|UPDATE|DELETE|MERGE)\b/i.test(text)
  return true
}

/** Rows compared by value: the same canonical form as migration's checks (booleans as 1/0, JSON by content). */
function sameRows(a: unknown, b: unknown): boolean {
  return stableJson(normalize(a)) === stableJson(normalize(b))
}

function normalize(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (Array.isArray(value)) return value.map(normalize)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]))
  }
  return value
}

function combine(a: StorageCapabilities, b: StorageCapabilities): StorageCapabilities {
  return {
    fts: a.fts === b.fts ? a.fts : false,
    json: a.json && b.json,
    returning: a.returning && b.returning,
    savepoints: a.savepoints && b.savepoints,
    lastInsertRowid: a.lastInsertRowid,
    concurrency: a.concurrency === 'single' || b.concurrency === 'single' ? 'single' : 'pool',
    persistence: a.persistence,
  }
}
