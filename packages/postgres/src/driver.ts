import type { DriverDefinition } from '@engram/core'
import { createPostgresAdapter, type PostgresConfig } from './postgres-adapter.js'

declare module '@engram/core' {
  interface DriverOptions {
    /** `createDatabase({ type: 'postgres', … })`: the pool's options; the URL comes as `url` or `connectionString`. */
    postgres: Omit<PostgresConfig, 'connectionString'>
  }
}

/** The registry entry `createDatabase` uses for `type: 'postgres'` and `postgres://` URLs. */
export const driver: DriverDefinition<'postgres'> = {
  type: 'postgres',
  dialect: 'postgres',
  async open(options) {
    const { type: _type, url: _url, filename: _filename, onSelect: _onSelect, ...rest } = options
    return createPostgresAdapter(rest)
  },
}
