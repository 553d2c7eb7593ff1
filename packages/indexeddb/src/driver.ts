import type { DriverDefinition } from '@engram/core'
import { createIndexedDbAdapter, type IndexedDbConfig } from './indexeddb-adapter.js'

/** The database name `createDatabase` uses when none is given. */
const DEFAULT_NAME = 'engram'

/**
 * The registry entry for `type: 'indexeddb'`, first choice of `type: 'auto'` in a browser. It
 * fails with `UNSUPPORTED` where there is no IndexedDB, so `auto` moves on to sql.js.
 * Options are `IndexedDbConfig`'s; `name` defaults to `'engram'`.
 */
export const driver: DriverDefinition = {
  type: 'indexeddb',
  dialect: 'sqlite',
  async open(options) {
    const { type: _type, url: _url, connectionString: _cs, filename: _filename, ...rest } = options
    const config = { ...rest, name: rest.name ?? DEFAULT_NAME } as IndexedDbConfig
    // createIndexedDbAdapter itself is UNSUPPORTED without IndexedDB or Web Locks, so `auto` moves on.
    return createIndexedDbAdapter(config)
  },
}
