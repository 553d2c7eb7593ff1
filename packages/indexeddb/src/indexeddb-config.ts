import { StorageError } from '@engram/core'
import type { SqlJsConfig } from '@engram/sqljs'

/** When a write counts as done: once IndexedDB holds it (`'commit'`), or at once (`'relaxed'`). */
export type IndexedDbDurability = 'commit' | 'relaxed'

/** Configuration for `createIndexedDbAdapter`. */
export interface IndexedDbConfig {
  /**
   * The database's name: 1 to 200 characters, no control characters. The image is kept in the
   * IndexedDB database `engram:<name>`; tabs that open the same name share it.
   */
  name: string
  /**
   * `'commit'`: a write resolves once IndexedDB reports it saved (durability hint `'strict'`).
   * `'relaxed'`: writes resolve at once and are saved together shortly after (see
   * `flushDelay`), when the page is hidden or unloaded, and on `flush()` and `close()`; a
   * crash may lose the last moments. Default is `'commit'`.
   */
  durability?: IndexedDbDurability
  /** In `'relaxed'` mode, how long (ms) after the first unsaved write the image is saved. Default is `100`. */
  flushDelay?: number
  /** The IndexedDB factory. Default is `globalThis.indexedDB`; pass `fake-indexeddb`'s in Node. */
  indexedDB?: IDBFactory
  /**
   * The Web Locks manager tabs coordinate writes through. Default is `navigator.locks`; in
   * Node, give every adapter on one database the same `LocalLockManager`.
   */
  locks?: LockManager
  /** An initialised sql.js module; by default the bundled one is loaded. */
  sqlJs?: SqlJsConfig['sqlJs']
  /** Maps the sql.js `.wasm` file name to the URL it is served from (for bundlers that move it). */
  locateFile?: SqlJsConfig['locateFile']
  /** The sql.js `.wasm` bytes, so nothing is fetched. */
  wasmBinary?: SqlJsConfig['wasmBinary']
  /** Enforce foreign keys. Default is `true`. */
  foreignKeys?: boolean
}

/** The checked configuration, with defaults filled in. */
export interface IndexedDbSettings {
  readonly name: string
  readonly durability: IndexedDbDurability
  readonly flushDelay: number
  readonly factory: IDBFactory
  readonly locks: LockManager
  readonly sqlJs: Partial<Pick<SqlJsConfig, 'sqlJs' | 'locateFile' | 'wasmBinary' | 'foreignKeys'>>
}

const NAME_PATTERN = /^[^\p{Cc}]{1,200}$/u

/**
 * Checks `createIndexedDbAdapter`'s configuration and fills in the defaults. A bad value is
 * `INVALID_ARGUMENT`; a runtime without IndexedDB or Web Locks is `UNSUPPORTED`, so `auto` moves on.
 */
export function resolveIndexedDbConfig(config: IndexedDbConfig): IndexedDbSettings {
  if (config === null || typeof config !== 'object') {
    throw new StorageError('INVALID_ARGUMENT', 'createIndexedDbAdapter() needs a config object with a name')
  }
  const { name, durability = 'commit', flushDelay = 100 } = config
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `The IndexedDB database name must be a string of 1 to 200 characters without control characters; got ${JSON.stringify(name)}`,
    )
  }
  if (durability !== 'commit' && durability !== 'relaxed') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `durability must be 'commit' or 'relaxed'; got ${JSON.stringify(durability)}`,
    )
  }
  if (typeof flushDelay !== 'number' || !Number.isFinite(flushDelay) || flushDelay < 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `flushDelay must be a number of milliseconds ≥ 0; got ${flushDelay}`,
    )
  }
  const g = globalThis as { indexedDB?: IDBFactory; navigator?: { locks?: LockManager } }
  const factory = config.indexedDB ?? g.indexedDB
  if (!factory || typeof factory.open !== 'function') {
    throw new StorageError(
      'UNSUPPORTED',
      'IndexedDB is not available in this runtime; use @engram/sqljs, or pass `indexedDB` (fake-indexeddb in Node)',
    )
  }
  const locks = config.locks ?? g.navigator?.locks
  if (!locks || typeof locks.request !== 'function') {
    throw new StorageError(
      'UNSUPPORTED',
      'The Web Locks API (navigator.locks) is not available, and without it tabs could overwrite each other. Browsers offer it only in secure contexts: serve the page over https:// or from localhost, or pass `locks` (a LocalLockManager in Node)',
    )
  }
  const sqlJs: IndexedDbSettings['sqlJs'] = {}
  if (config.sqlJs !== undefined) sqlJs.sqlJs = config.sqlJs
  if (config.locateFile !== undefined) sqlJs.locateFile = config.locateFile
  if (config.wasmBinary !== undefined) sqlJs.wasmBinary = config.wasmBinary
  if (config.foreignKeys !== undefined) sqlJs.foreignKeys = config.foreignKeys
  return { name, durability, flushDelay, factory, locks, sqlJs }
}
