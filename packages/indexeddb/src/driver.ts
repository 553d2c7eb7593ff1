import { type DriverDefinition, StorageError } from '@engram/core'
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
    if (!config.indexedDB && !(globalThis as { indexedDB?: unknown }).indexedDB) {
      throw new StorageError('UNSUPPORTED', 'IndexedDB is not available in this runtime')
    }
    return createIndexedDbAdapter(config)
  },
}
