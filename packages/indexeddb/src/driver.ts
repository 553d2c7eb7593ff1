import type { DriverDefinition } from '@engram/core'
import { createIndexedDbAdapter } from './indexeddb-adapter.js'
import type { IndexedDbConfig } from './indexeddb-config.js'

declare module '@engram/core' {
  interface DriverOptions {
    /** `createDatabase({ type: 'indexeddb', … })`: the adapter's options; `name` defaults to `'engram'`. */
    indexeddb: Partial<IndexedDbConfig>
  }
}

/** The database name `createDatabase` uses when none is given. */
const DEFAULT_NAME = 'engram'

/**
 * The registry entry for `type: 'indexeddb'`, first choice of `type: 'auto'` in a browser. It
 * fails with `UNSUPPORTED` where there is no IndexedDB, so `auto` moves on to sql.js.
 * Options are `IndexedDbConfig`'s; `name` defaults to `'engram'`.
 */
export const driver: DriverDefinition<'indexeddb'> = {
  type: 'indexeddb',
  dialect: 'sqlite',
  async open(options) {
    const {
      type: _type,
      url: _url,
      connectionString: _cs,
      filename: _filename,
      onSelect: _onSelect,
      ...rest
    } = options
    const config: IndexedDbConfig = { ...rest, name: rest.name ?? DEFAULT_NAME }
    // createIndexedDbAdapter itself is UNSUPPORTED without IndexedDB or Web Locks, so `auto` moves on.
    return createIndexedDbAdapter(config)
  },
}
