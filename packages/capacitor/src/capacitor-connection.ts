import type { ISQLiteConnection, ISQLiteDBConnection } from '@capacitor-community/sqlite'
import { fromDriverInteger, type Row, type RunResult, type SqlConnection } from '@engram/core'
import { pagedSql } from './paged-sql.js'
import { type CapacitorPlatform, fromPluginRow, toPluginValue } from './plugin-value.js'

/** What `CapacitorConnection` needs to reach one database through the plugin. */
export interface CapacitorConnectionOptions {
  /** The plugin's connection wrapper that owns the connection; `close()` goes through it. */
  sqlite: ISQLiteConnection
  /** The opened database connection. */
  db: ISQLiteDBConnection
  /** The database name the connection was created with. */
  database: string
  /** Whether the connection is read-only. */
  readonly: boolean
  /** How values cross the bridge. */
  platform: CapacitorPlatform
  /** Rows fetched per bridge call by `iterate()`. */
  pageSize: number
  /** Runs once the plugin has closed the connection. */
  onClose?: () => void
}

/**
 * The plugin behind core's `SqlConnection`. Every call passes `transaction: false`: core opens
 * and ends transactions itself with BEGIN/COMMIT/SAVEPOINT through `exec`, and the plugin's
 * default (`true`) would wrap each call in its own BEGIN/COMMIT, which fails inside ours (on
 * Android it even rolls ours back) and outside ours only repeats what autocommit does.
 */
export class CapacitorConnection implements SqlConnection {
  readonly #options: CapacitorConnectionOptions

  constructor(options: CapacitorConnectionOptions) {
    this.#options = options
  }

  async exec(sql: string): Promise<void> {
    // An empty script does nothing; skipping it saves a bridge call.
    if (sql.trim() === '') return
    await this.#options.db.execute(sql, false)
  }

  async run(sql: string, params: unknown[]): Promise<RunResult> {
    const result = await this.#options.db.run(sql, this.#values(params), false, 'no')
    const changes = result.changes?.changes ?? 0
    const lastId: unknown = result.changes?.lastId
    return { changes, lastInsertRowid: await this.#exactRowid(lastId) }
  }

  async get(sql: string, params: unknown[]): Promise<Row | undefined> {
    const paged = pagedSql(sql, 1, 0)
    if (paged === undefined) return (await this.#query(sql, params))[0]
    const row = (await this.#query(paged, params))[0]
    return row && unwrapColumns(row)
  }

  all(sql: string, params: unknown[]): Promise<Row[]> {
    return this.#query(sql, params)
  }

  /**
   * The plugin has no cursor, so this reads `pageSize` rows per call with LIMIT/OFFSET around
   * the query. Core holds the connection until the loop ends, so no write through this adapter
   * moves rows between pages; a query without ORDER BY still returns SQLite's natural order.
   */
  async *iterate(sql: string, params: unknown[]): AsyncGenerator<Row> {
    const { pageSize } = this.#options
    if (pagedSql(sql, pageSize, 0) === undefined) {
      yield* await this.#query(sql, params)
      return
    }
    for (let offset = 0; ; offset += pageSize) {
      const page = await this.#query(pagedSql(sql, pageSize, offset) as string, params)
      for (const row of page) yield unwrapColumns(row)
      if (page.length < pageSize) return
    }
  }

  async close(): Promise<void> {
    const { sqlite, database, readonly, onClose } = this.#options
    try {
      await sqlite.closeConnection(database, readonly)
    } finally {
      onClose?.()
    }
  }

  async #query(sql: string, params: unknown[]): Promise<Row[]> {
    const result = await this.#options.db.query(sql, this.#values(params))
    const rows = (result.values ?? []) as Row[]
    for (const row of rows) fromPluginRow(row)
    return rows
  }

  #values(params: unknown[]): unknown[] {
    const { platform } = this.#options
    return params.map((value) => toPluginValue(value, platform))
  }

  /**
   * The bridge carries `lastId` as a JSON number, which is exact only up to 2^53; past that the
   * rowid is read again as text (the connection still holds it: nothing ran in between).
   */
  async #exactRowid(lastId: unknown): Promise<number | bigint | undefined> {
    if (typeof lastId === 'bigint') return fromDriverInteger(lastId)
    if (typeof lastId !== 'number') return undefined
    if (Number.isSafeInteger(lastId)) return lastId
    const row = (await this.#options.db.query('SELECT CAST(last_insert_rowid() AS TEXT) AS id'))
      .values?.[0] as { id?: string } | undefined
    return row?.id === undefined ? lastId : fromDriverInteger(BigInt(row.id))
  }
}

/**
 * Undoes what the paging subquery does to repeated column names: SQLite renames the second `id`
 * of `SELECT a.id, b.id` to `id:1` there, while the plain query yields one `id` holding the last
 * value. Rows then look the same whether they were read whole or a page at a time.
 */
function unwrapColumns(row: Row): Row {
  for (const key of Object.keys(row)) {
    const repeated = /^(.+):\d+$/.exec(key)?.[1]
    if (repeated !== undefined && repeated in row) {
      row[repeated] = row[key]
      delete row[key]
    }
  }
  return row
}
