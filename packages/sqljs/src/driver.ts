import type { DriverDefinition } from '@engram/core'
import { createSqlJsAdapter, type SqlJsConfig } from './sqljs-adapter.js'

declare module '@engram/core' {
  interface DriverOptions {
    /** `createDatabase({ type: 'sqljs', … })`: sql.js's options; `filename` defaults to `':memory:'`. */
    sqljs: Omit<SqlJsConfig, 'filename'>
  }
}

/** The registry entry `createDatabase` uses for `type: 'sqljs'` (and for SQLite paths where better-sqlite3 is missing). */
export const driver: DriverDefinition<'sqljs'> = {
  type: 'sqljs',
  dialect: 'sqlite',
  async open(options) {
    const { filename, type: _type, url: _url, connectionString: _cs, onSelect: _onSelect, ...rest } = options
    return createSqlJsAdapter({ ...rest, filename: filename ?? ':memory:' })
  },
}
