import type { DriverDefinition } from '@engram/core'
import { createSqlJsAdapter, type SqlJsConfig } from './sqljs-adapter.js'

/** The registry entry `createDatabase` uses for `type: 'sqljs'` (and for SQLite paths where better-sqlite3 is missing). */
export const driver: DriverDefinition = {
  type: 'sqljs',
  dialect: 'sqlite',
  async open(options) {
    const { filename, type: _type, url: _url, connectionString: _cs, ...rest } = options
    return createSqlJsAdapter({ ...(rest as SqlJsConfig), filename: filename ?? ':memory:' })
  },
}
