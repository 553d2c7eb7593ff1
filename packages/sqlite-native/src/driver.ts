import type { DriverDefinition } from '@engram/core'
import { createSqliteNativeAdapter, type SqliteNativeConfig } from './sqlite-native-adapter.js'

declare module '@engram/core' {
  interface DriverOptions {
    /** `createDatabase({ type: 'sqlite-native', … })`: better-sqlite3's options; `filename` defaults to `':memory:'`. */
    'sqlite-native': Omit<SqliteNativeConfig, 'filename'>
  }
}

/** The registry entry `createDatabase` uses for `type: 'sqlite-native'` and SQLite paths. */
export const driver: DriverDefinition<'sqlite-native'> = {
  type: 'sqlite-native',
  dialect: 'sqlite',
  async open(options) {
    const { filename, type: _type, url: _url, connectionString: _cs, onSelect: _onSelect, ...rest } = options
    return createSqliteNativeAdapter({ ...rest, filename: filename ?? ':memory:' })
  },
}
