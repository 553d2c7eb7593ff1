import type { ISQLiteConnection } from '@capacitor-community/sqlite'
import { installCommand, StorageError } from '@engram/core'

let shared: Promise<ISQLiteConnection> | undefined

/**
 * The app-wide `SQLiteConnection` over the plugin's `CapacitorSQLite`, imported on first use so
 * this package loads without the plugin. It is one instance on purpose: the plugin's consistency
 * check closes native connections that the checking wrapper does not know about.
 */
export function loadSqliteConnection(): Promise<ISQLiteConnection> {
  shared ??= (async () => {
    let plugin: typeof import('@capacitor-community/sqlite')
    try {
      plugin = await import('@capacitor-community/sqlite')
    } catch (error) {
      throw new StorageError(
        'DRIVER_NOT_INSTALLED',
        `@capacitor-community/sqlite is not installed: add it with "${installCommand('@capacitor-community/sqlite')}", then run "npx cap sync"`,
        { cause: error },
      )
    }
    return new plugin.SQLiteConnection(plugin.CapacitorSQLite)
  })()
  // A failed import may succeed later (after a reload with the plugin installed), so it is not kept.
  shared.catch(() => {
    shared = undefined
  })
  return shared
}
