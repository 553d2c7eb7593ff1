import type { StorageAdapter } from '@engram/core'
import { afterEach, beforeEach } from 'vitest'
import { type DialectSql, dialectSql, uniqueName } from './storage-fixtures.js'

/** One test's adapter plus helpers that make tables with unique names and drop them afterwards. */
export interface StorageContext {
  /** The adapter opened for the current test. */
  readonly db: StorageAdapter
  /** Column types and expressions in the adapter's dialect. */
  readonly sql: DialectSql
  /** The tables dropped after the test, last one first; a test that names a table itself adds it here. */
  readonly tables: string[]
  /** Creates a table with a unique name and these column definitions, and returns the name. */
  table(columns: string): Promise<string>
  /** A table `(id, name TEXT)` with three rows a, b, c. */
  abc(): Promise<string>
  /** Closes `adapter` after the test, for adapters a test opens beside the suite's own. */
  closeAfter(adapter: StorageAdapter): void
}

/**
 * Registers hooks that open a fresh adapter before each test and, after it, close the adapters
 * the test opened, drop its tables, close the adapter and run `cleanup`. Failures while cleaning
 * up are ignored: a test that closed its adapter leaves nothing that could still be dropped.
 */
export function useStorageContext(
  open: () => Promise<StorageAdapter>,
  cleanup: (() => Promise<void>) | undefined,
): StorageContext {
  let current: { db: StorageAdapter; sql: DialectSql } | undefined
  let tables: string[] = []
  let extra: StorageAdapter[] = []

  beforeEach(async () => {
    tables = []
    extra = []
    const db = await open()
    current = { db, sql: dialectSql(db.dialect) }
  })

  afterEach(async () => {
    for (const adapter of extra) await adapter.close().catch(() => undefined)
    const db = current?.db
    current = undefined
    if (db) {
      for (const table of tables.reverse())
        await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
      await db.close().catch(() => undefined)
    }
    await cleanup?.()
  })

  const opened = (): { db: StorageAdapter; sql: DialectSql } => {
    if (!current) throw new Error('The adapter is only available inside a test')
    return current
  }

  const ctx: StorageContext = {
    get db() {
      return opened().db
    },
    get sql() {
      return opened().sql
    },
    get tables() {
      return tables
    },
    async table(columns) {
      const table = uniqueName('t')
      await ctx.db.exec(`CREATE TABLE ${table} (${columns})`)
      tables.push(table)
      return table
    },
    async abc() {
      const t = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY, name TEXT`)
      await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
      return t
    },
    closeAfter(adapter) {
      extra.push(adapter)
    },
  }
  return ctx
}
