import type { ISQLiteConnection, ISQLiteDBConnection } from '@capacitor-community/sqlite'
import {
  booleanOption,
  createConnectionAdapter,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
} from '@engram/core'
import { CapacitorConnection } from './capacitor-connection.js'
import { capacitorErrorCode, errorMessage } from './capacitor-error-code.js'
import { loadSqliteConnection } from './load-sqlite-connection.js'
import type { CapacitorPlatform } from './plugin-value.js'

/** Options for `createCapacitorAdapter`. */
export interface CapacitorConfig {
  /**
   * The database name. The plugin keeps the file in the app's own database folder (as
   * `<name>SQLite.db`), so this is a name, not a path; a trailing `.db` is dropped, as the plugin does.
   */
  database: string
  /**
   * Open an encrypted (SQLCipher) database with the passphrase the plugin keeps in the device's
   * secure store: call `sqlite.setEncryptionSecret(passphrase)` once before the first open. Needs
   * encryption switched on in capacitor.config (`iosIsEncryption`, `androidIsEncryption`). Default is `false`.
   */
  encrypted?: boolean
  /**
   * The plugin's encryption mode: `'secret'` opens with the stored passphrase, `'encryption'`
   * encrypts an existing plain database. Default is `'secret'` when `encrypted`, else `'no-encryption'`.
   */
  mode?: string
  /** The database version the plugin records (used by its upgrade statements). Default is `1`. */
  version?: number
  /** Open read-only: reads work, writes and transactions fail with `READONLY`. Default is `false`. */
  readonly?: boolean
  /**
   * The plugin's connection wrapper. Pass your app's own `SQLiteConnection` if it already uses the
   * plugin, so both share one registry of connections. Default is one shared
   * `new SQLiteConnection(CapacitorSQLite)`, imported when first needed.
   */
  sqlite?: ISQLiteConnection
  /**
   * Decides how blobs and integers beyond 2^53 are sent across the bridge.
   * Default is `Capacitor.getPlatform()`.
   */
  platform?: CapacitorPlatform
  /** Rows fetched per bridge call while `iterate()` pages through a query. Default is `1000`. */
  pageSize?: number
}

/** Connections opened by an engram adapter, per wrapper, so two adapters never share one. */
const inUse = new WeakMap<ISQLiteConnection, Set<string>>()

/**
 * Opens a database with @capacitor-community/sqlite (iOS, Android, Electron) and returns it as a
 * `StorageAdapter`. The adapter runs transactions itself; see the package README for why.
 *
 * @example
 * const db = await createCapacitorAdapter({ database: 'notes' })
 */
export async function createCapacitorAdapter(config: CapacitorConfig): Promise<StorageAdapter> {
  const { database, readonly, encrypted, mode, version, pageSize } = validate(config)
  const sqlite = config.sqlite ?? (await loadSqliteConnection())
  const platform = config.platform ?? detectPlatform()
  const key = `${readonly ? 'RO' : 'RW'}_${database}`
  const open = inUse.get(sqlite) ?? new Set<string>()
  inUse.set(sqlite, open)
  if (open.has(key)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Database "${database}" is already open by another engram adapter on this SQLiteConnection; share that adapter, or close it first`,
    )
  }
  open.add(key)
  let db: ISQLiteDBConnection | undefined
  try {
    if (encrypted && mode === 'secret') await requireSecret(sqlite, database)
    db = await connect(sqlite, { database, readonly, encrypted, mode, version })
    const capabilities = await probe(db, readonly)
    if (!readonly) await db.execute('PRAGMA foreign_keys = ON', false)
    const connection = new CapacitorConnection({
      sqlite,
      db,
      database,
      readonly,
      platform,
      pageSize,
      onClose: () => open.delete(key),
    })
    return createConnectionAdapter({
      kind: 'capacitor',
      dialect: 'sqlite',
      capabilities,
      connection,
      errorCode: capacitorErrorCode,
    })
  } catch (error) {
    if (db) await sqlite.closeConnection(database, readonly).catch(() => undefined)
    open.delete(key)
    if (error instanceof StorageError) throw error
    const code = capacitorErrorCode(error)
    throw new StorageError(
      code === 'QUERY_FAILED' ? 'CONNECTION_FAILED' : code,
      `Could not open database "${database}" with @capacitor-community/sqlite: ${errorMessage(error)}`,
      { cause: error },
    )
  }
}

interface Validated {
  database: string
  readonly: boolean
  encrypted: boolean
  mode: string
  version: number
  pageSize: number
}

function validate(config: CapacitorConfig): Validated {
  const name = config?.database
  if (typeof name !== 'string' || name.trim() === '') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'createCapacitorAdapter needs a database name, e.g. { database: "app" }',
    )
  }
  const database = name.endsWith('.db') ? name.slice(0, -3) : name
  if (database === '' || database === ':memory:' || /[/\\]/.test(database)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `"${name}" is not a database name: the plugin keeps databases in the app's own folder, so pass a plain name such as "app" (no path, no ":memory:")`,
    )
  }
  const encrypted = booleanOption(config.encrypted, false, 'encrypted')
  const mode = config.mode ?? (encrypted ? 'secret' : 'no-encryption')
  if (typeof mode !== 'string' || mode === '') {
    throw new StorageError('INVALID_ARGUMENT', `mode must be one of the plugin's modes, such as 'secret'`)
  }
  const version = config.version ?? 1
  if (!Number.isInteger(version) || version < 1) {
    throw new StorageError('INVALID_ARGUMENT', `version must be a positive integer, got ${String(version)}`)
  }
  const pageSize = config.pageSize ?? 1000
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new StorageError('INVALID_ARGUMENT', `pageSize must be a positive integer, got ${String(pageSize)}`)
  }
  return {
    database,
    readonly: booleanOption(config.readonly, false, 'readonly'),
    encrypted,
    mode,
    version,
    pageSize,
  }
}

/** Fails early, with the fix, when an encrypted database is opened before a passphrase was stored. */
async function requireSecret(sqlite: ISQLiteConnection, database: string): Promise<void> {
  let stored: boolean | undefined
  try {
    stored = (await sqlite.isSecretStored()).result
  } catch {
    // Platforms without a secure store answer with an error; the open itself then reports the problem.
    return
  }
  if (stored === false) {
    throw new StorageError(
      'CONNECTION_FAILED',
      `Database "${database}" is encrypted but no passphrase is stored: call sqlite.setEncryptionSecret(passphrase) once (the plugin keeps it in the device's secure store), then open it again`,
    )
  }
}

/**
 * Creates the plugin connection, or takes over the one that already exists. After an app reload
 * the native side still holds the connections the old page opened while the new wrapper knows
 * none; the consistency check closes those, so `createConnection` does not fail with
 * "already exists".
 */
async function connect(
  sqlite: ISQLiteConnection,
  options: Omit<Validated, 'pageSize'>,
): Promise<ISQLiteDBConnection> {
  const { database, readonly, encrypted, mode, version } = options
  const consistent = (await sqlite.checkConnectionsConsistency()).result === true
  const exists = consistent && (await sqlite.isConnection(database, readonly)).result === true
  if (exists) {
    const db = await sqlite.retrieveConnection(database, readonly)
    if ((await db.isDBOpen()).result !== true) await db.open()
    return db
  }
  const db = await sqlite.createConnection(database, encrypted, mode, version, readonly)
  try {
    await db.open()
  } catch (error) {
    // A wrong passphrase or a damaged file: unregister the connection, or the next open finds it.
    await sqlite.closeConnection(database, readonly).catch(() => undefined)
    throw error
  }
  return db
}

/** Finds out what this build of SQLite offers instead of assuming it (FTS differs by platform). */
async function probe(db: ISQLiteDBConnection, readonly: boolean): Promise<StorageCapabilities> {
  return {
    fts: await probeFts(db, readonly),
    json: await succeeds(() => db.query(`SELECT json('[1]') AS j`)),
    // The plugin strips RETURNING from run() and imitates it with a second SELECT (returnMode), which
    // does not return what the statement changed; so RETURNING is not offered.
    returning: false,
    savepoints: true,
    lastInsertRowid: true,
    concurrency: 'single',
    persistence: 'file',
  }
}

async function probeFts(db: ISQLiteDBConnection, readonly: boolean): Promise<'fts5' | 'fts4' | false> {
  if (readonly) {
    // A read-only connection refuses execute(), so ask how SQLite was compiled instead.
    const row = (
      await db.query(
        `SELECT sqlite_compileoption_used('ENABLE_FTS5') AS fts5, sqlite_compileoption_used('ENABLE_FTS4') + sqlite_compileoption_used('ENABLE_FTS3') AS fts4`,
      )
    ).values?.[0] as { fts5?: number; fts4?: number } | undefined
    return row?.fts5 ? 'fts5' : row?.fts4 ? 'fts4' : false
  }
  for (const module of ['fts5', 'fts4'] as const) {
    // A temp table: nothing is written to the database file.
    const table = `temp.engram_probe_${module}`
    const created = await succeeds(() =>
      db.execute(`CREATE VIRTUAL TABLE ${table} USING ${module}(body)`, false),
    )
    if (created) {
      await db.execute(`DROP TABLE ${table}`, false)
      return module
    }
  }
  return false
}

async function succeeds(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call()
    return true
  } catch {
    return false
  }
}

function detectPlatform(): CapacitorPlatform {
  const platform = (globalThis as { Capacitor?: { getPlatform?: () => string } }).Capacitor?.getPlatform?.()
  return platform === 'android' || platform === 'ios' || platform === 'electron' ? platform : 'web'
}
