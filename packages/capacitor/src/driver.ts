import type { ISQLiteConnection } from '@capacitor-community/sqlite'
import { type DriverDefinition, isStorageError, StorageError } from '@engram/core'
import { type CapacitorConfig, createCapacitorAdapter } from './capacitor-adapter.js'
import { loadSqliteConnection } from './load-sqlite-connection.js'

declare module '@engram/core' {
  interface DriverOptions {
    /** `createDatabase({ type: 'capacitor', … })`: the adapter's options; `database` defaults to the file name, else `'engram'`. */
    capacitor: Partial<CapacitorConfig>
  }
}

/**
 * The registry entry `createDatabase` uses for `type: 'capacitor'`, first in the `auto` order on
 * a Capacitor app. Outside a native Capacitor platform, or without the plugin, it reports
 * `UNSUPPORTED` so `auto` moves on to IndexedDB and sql.js.
 */
export const driver: DriverDefinition<'capacitor'> = {
  type: 'capacitor',
  dialect: 'sqlite',
  async open(options) {
    const capacitor = (
      globalThis as { Capacitor?: { isNativePlatform?: () => boolean; getPlatform?: () => string } }
    ).Capacitor
    if (!capacitor?.isNativePlatform?.()) {
      throw new StorageError(
        'UNSUPPORTED',
        `@engram/capacitor needs a native Capacitor platform (iOS, Android or Electron), but this is ${capacitor?.getPlatform?.() ?? 'not a Capacitor app'}; use @engram/indexeddb in a browser`,
      )
    }
    const {
      filename,
      type: _type,
      url: _url,
      connectionString: _cs,
      onSelect: _onSelect,
      database,
      ...rest
    } = options
    if (filename === ':memory:') {
      throw new StorageError(
        'UNSUPPORTED',
        '@capacitor-community/sqlite has no in-memory databases; use @engram/sqljs',
      )
    }
    let sqlite: ISQLiteConnection | undefined = rest.sqlite
    if (sqlite === undefined) {
      try {
        sqlite = await loadSqliteConnection()
      } catch (error) {
        if (!isStorageError(error, 'DRIVER_NOT_INSTALLED')) throw error
        throw new StorageError('UNSUPPORTED', error.message, { cause: error })
      }
    }
    const name =
      typeof database === 'string' ? database : typeof filename === 'string' ? baseName(filename) : 'engram'
    return createCapacitorAdapter({ ...rest, sqlite, database: name })
  },
}

/** The plugin decides where files live, so a path given to `createDatabase` keeps only its name. */
function baseName(path: string): string {
  return path.split(/[/\\]/).pop() || 'engram'
}
