import type { DriverDefinition } from '@engram/core'
import { createSqliteNativeAdapter } from './sqlite-native-adapter.js'

/** The registry entry `createDatabase` uses for `type: 'sqlite-native'` and SQLite paths. */
export const driver: DriverDefinition = {
  type: 'sqlite-native',
  dialect: 'sqlite',
  async open(options) {
    const { filename, type: _type, url: _url, connectionString: _cs, ...rest } = options
    return createSqliteNativeAdapter({ ...rest, filename: filename ?? ':memory:' })
  },
}
