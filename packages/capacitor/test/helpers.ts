import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQLiteConnection } from '@capacitor-community/sqlite'
import type { StorageAdapter } from '@engram/core'
import { type CapacitorConfig, createCapacitorAdapter } from '../src/index.js'
import { FakeCapacitorSQLite, type FakeCapacitorSQLiteOptions } from './fake-capacitor-sqlite.js'

/** A device: the native plugin double in its own folder, and the plugin's real JS wrapper over it. */
export interface Device {
  plugin: FakeCapacitorSQLite
  sqlite: SQLiteConnection
  /** Opens an adapter on this device; `platform` defaults to the double's. */
  open(database: string, config?: Partial<CapacitorConfig>): Promise<StorageAdapter>
  /** What happens on an app reload: the page (and its wrapper) is new, the native side is not. */
  reload(): void
}

/** Makes a fresh device in a new temporary folder. */
export function device(options: Partial<FakeCapacitorSQLiteOptions> = {}): Device {
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'engram-capacitor-'))
  const platform = options.platform ?? 'android'
  const plugin = new FakeCapacitorSQLite({ directory, platform })
  const self: Device = {
    plugin,
    sqlite: new SQLiteConnection(plugin),
    open: (database, config = {}) =>
      createCapacitorAdapter({ database, sqlite: self.sqlite, platform, ...config }),
    reload() {
      self.sqlite = new SQLiteConnection(plugin)
    },
  }
  return self
}
