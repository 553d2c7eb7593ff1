import type { DriverDefinition } from '@engram/core'
import { createPostgresAdapter, type PostgresConfig } from './postgres-adapter.js'

/** The registry entry `createDatabase` uses for `type: 'postgres'` and `postgres://` URLs. */
export const driver: DriverDefinition = {
  type: 'postgres',
  dialect: 'postgres',
  async open(options) {
    const { type: _type, url: _url, filename: _filename, ...rest } = options
    return createPostgresAdapter(rest as PostgresConfig)
  },
}
