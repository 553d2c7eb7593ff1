import { join } from 'node:path'
import type {
  CapacitorSQLitePlugin,
  capAllConnectionsOptions,
  capConnectionOptions,
  capEchoResult,
  capNCDatabasePathResult,
  capSetSecretOptions,
  capSQLiteChanges,
  capSQLiteExecuteOptions,
  capSQLiteJson,
  capSQLiteOptions,
  capSQLiteQueryOptions,
  capSQLiteResult,
  capSQLiteRunOptions,
  capSQLiteSyncDate,
  capSQLiteUrl,
  capSQLiteValues,
  capVersionResult,
} from '@capacitor-community/sqlite'
import Database from 'better-sqlite3'

/** One call that reached the native side, with its options as the bridge delivered them. */
export interface FakeCall {
  method: string
  options: Record<string, unknown>
}

/** Options for `FakeCapacitorSQLite`. */
export interface FakeCapacitorSQLiteOptions {
  /** The folder standing in for the app's database folder; files are `<name>SQLite.db`, as on a device. */
  directory: string
  /** Which native side to imitate where they differ (how a blob parameter must look). Default is `'android'`. */
  platform?: 'android' | 'ios'
}

interface NativeConnection {
  readonly name: string
  readonly readonly: boolean
  readonly encrypted: boolean
  readonly mode: string
  readonly version: number
  db?: Database.Database
}

/**
 * A test double of the *native* half of @capacitor-community/sqlite (the `CapacitorSQLite`
 * plugin object), on better-sqlite3. Tests wrap it in the plugin's real JS classes,
 * `new SQLiteConnection(fake)`, so the vendor's own wrapper code (its defaults, its connection
 * dictionary, its read-only checks) runs unchanged and only the native side is imitated:
 *
 * - Options and results cross a JSON bridge, as on Android and iOS: a `bigint` cannot be sent,
 *   integers come back as JSON numbers (exact only to 2^53), blobs come back as arrays of bytes.
 * - `transaction` defaults to `true` and wraps each execute/run in BEGIN/COMMIT. When a
 *   transaction is already open it fails with Android's message and, as Android's `finally`
 *   does, rolls the open transaction back.
 * - The native connection registry: `createConnection` fails when one exists, and
 *   `checkConnectionsConsistency` drops native connections the JS side does not know about.
 * - Errors are `Error`s whose message wraps SQLite's, prefixed with the method (`Run: …`).
 *
 * Encryption is recorded, not performed (better-sqlite3 has no SQLCipher). Methods the adapter
 * never calls throw "not implemented in the test double".
 */
export class FakeCapacitorSQLite implements CapacitorSQLitePlugin {
  /** Every call, in order. */
  readonly calls: FakeCall[] = []
  readonly #directory: string
  readonly #platform: 'android' | 'ios'
  readonly #connections = new Map<string, NativeConnection>()
  #secret: string | undefined

  constructor(options: FakeCapacitorSQLiteOptions) {
    this.#directory = options.directory
    this.#platform = options.platform ?? 'android'
  }

  /** The path of a database's file, for tests that look at the disk. */
  path(database: string): string {
    return join(this.#directory, `${database}SQLite.db`)
  }

  /** Native connections by key (`RW_name`, `RO_name`), for tests. */
  connectionKeys(): string[] {
    return [...this.#connections.keys()]
  }

  async isSecretStored(): Promise<capSQLiteResult> {
    this.#receive('isSecretStored', {})
    return { result: this.#secret !== undefined }
  }

  async setEncryptionSecret(options: capSetSecretOptions): Promise<void> {
    const { passphrase } = this.#receive('setEncryptionSecret', options)
    if (typeof passphrase !== 'string' || passphrase === '') {
      throw new Error('SetEncryptionSecret: Must provide a passphrase')
    }
    this.#secret = passphrase
  }

  async createConnection(options: capConnectionOptions): Promise<void> {
    const o = this.#receive('createConnection', options)
    const name = String(o.database)
    const readonly = o.readonly === true
    const key = connectionKey(name, readonly)
    if (this.#connections.has(key)) {
      throw new Error(`CreateConnection: Connection ${name} already exists`)
    }
    this.#connections.set(key, {
      name,
      readonly,
      encrypted: o.encrypted === true,
      mode: String(o.mode ?? 'no-encryption'),
      version: Number(o.version ?? 1),
    })
  }

  async closeConnection(options: capSQLiteOptions): Promise<void> {
    const o = this.#receive('closeConnection', options)
    const key = connectionKey(String(o.database), o.readonly === true)
    const connection = this.#connections.get(key)
    if (!connection) throw new Error(`CloseConnection: No available connection for database ${o.database}`)
    connection.db?.close()
    this.#connections.delete(key)
  }

  async open(options: capSQLiteOptions): Promise<void> {
    const o = this.#receive('open', options)
    const connection = this.#connection('Open', o, o.readonly === true)
    if (connection.encrypted && connection.mode === 'secret' && this.#secret === undefined) {
      throw new Error(`Open: Database ${connection.name} is encrypted and no passphrase is stored`)
    }
    if (connection.db) return
    try {
      connection.db = new Database(this.path(connection.name), {
        readonly: connection.readonly,
        fileMustExist: connection.readonly,
      })
    } catch (error) {
      throw nativeError('Open', error)
    }
  }

  async close(options: capSQLiteOptions): Promise<void> {
    const o = this.#receive('close', options)
    const connection = this.#connection('Close', o, o.readonly === true)
    connection.db?.close()
    connection.db = undefined
  }

  async isDBOpen(options: capSQLiteOptions): Promise<capSQLiteResult> {
    const o = this.#receive('isDBOpen', options)
    return { result: this.#connection('IsDBOpen', o, o.readonly === true).db?.open === true }
  }

  async execute(options: capSQLiteExecuteOptions): Promise<capSQLiteChanges> {
    const o = this.#receive('execute', options)
    if (o.readonly === true) throw new Error('Execute: not allowed in read-only mode')
    const db = this.#openDb('Execute', o, false)
    const transaction = o.transaction !== false
    return this.#reply(
      this.#write('Execute', db, transaction, () => {
        db.exec(String(o.statements))
        return {}
      }),
    )
  }

  async run(options: capSQLiteRunOptions): Promise<capSQLiteChanges> {
    const o = this.#receive('run', options)
    if (o.readonly === true) throw new Error('Run: not allowed in read-only mode')
    const db = this.#openDb('Run', o, false)
    const transaction = o.transaction !== false
    const values = Array.isArray(o.values) ? o.values : []
    return this.#reply(
      this.#write('Run', db, transaction, () => {
        const statement = db.prepare(String(o.statement))
        const bound = values.map((value, i) => this.#bind(value, i + 1))
        if (statement.reader) {
          // Android runs statements with executeUpdateDelete, which refuses a query; a write with
          // RETURNING runs with the clause stripped (returnMode 'no'), so its rows are dropped.
          if (!/^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(String(o.statement))) {
            throw new Error('Queries can be performed using SQLiteDatabase query or rawQuery methods only.')
          }
          statement.all(...bound)
        } else {
          statement.run(...bound)
        }
        const lastId = db.prepare('SELECT last_insert_rowid() AS id').safeIntegers(true).get() as {
          id: bigint
        }
        // A Java long written as JSON and read by JavaScript: exact up to 2^53 only.
        return { lastId: Number(lastId.id), values: [] }
      }),
    )
  }

  async query(options: capSQLiteQueryOptions): Promise<capSQLiteValues> {
    const o = this.#receive('query', options)
    const db = this.#openDb('Query', o, o.readonly === true)
    const values = Array.isArray(o.values) ? o.values : []
    try {
      const statement = db.prepare(String(o.statement))
      const bound = values.map((value, i) => this.#bind(value, i + 1))
      if (!statement.reader) {
        statement.run(...bound)
        return this.#reply({ values: [] })
      }
      const rows = statement.all(...bound) as Record<string, unknown>[]
      for (const row of rows) {
        for (const key in row) {
          const value = row[key]
          // Android's cursor returns a blob as a JSON array of unsigned bytes (ByteArrayToJSArray).
          if (value instanceof Uint8Array) row[key] = Array.from(value)
        }
      }
      return this.#reply({ values: rows })
    } catch (error) {
      throw nativeError('Query', error)
    }
  }

  async checkConnectionsConsistency(options: capAllConnectionsOptions): Promise<capSQLiteResult> {
    const o = this.#receive('checkConnectionsConsistency', options)
    // Android's CapacitorSQLite.checkConnectionsConsistency, step by step.
    const names = (o.dbNames as string[] | undefined) ?? []
    const modes = (o.openModes as string[] | undefined) ?? []
    const known = new Set(names.map((name, i) => `${modes[i]}_${name}`))
    if (known.size === 0 || this.#connections.size < known.size) {
      this.#closeAll()
      return { result: false }
    }
    for (const [key, connection] of this.#connections) {
      if (!known.has(key)) {
        connection.db?.close()
        this.#connections.delete(key)
      }
    }
    const same =
      this.#connections.size === known.size && [...known].every((key) => this.#connections.has(key))
    if (!same) this.#closeAll()
    return { result: same }
  }

  async isDBExists(options: capSQLiteOptions): Promise<capSQLiteResult> {
    const o = this.#receive('isDBExists', options)
    const connection = this.#connection('IsDBExists', o, o.readonly === true)
    return { result: (await import('node:fs')).existsSync(this.path(connection.name)) }
  }

  async getVersion(options: capSQLiteOptions): Promise<capVersionResult> {
    const o = this.#receive('getVersion', options)
    return { version: this.#connection('GetVersion', o, o.readonly === true).version }
  }

  async isTransactionActive(options: capSQLiteOptions): Promise<capSQLiteResult> {
    const o = this.#receive('isTransactionActive', options)
    return { result: this.#openDb('IsTransactionActive', o, false).inTransaction }
  }

  // The rest of the plugin is outside what the adapter uses.
  initWebStore(): Promise<void> {
    return notImplemented('initWebStore')
  }
  saveToStore(): Promise<void> {
    return notImplemented('saveToStore')
  }
  getFromLocalDiskToStore(): Promise<void> {
    return notImplemented('getFromLocalDiskToStore')
  }
  saveToLocalDisk(): Promise<void> {
    return notImplemented('saveToLocalDisk')
  }
  changeEncryptionSecret(): Promise<void> {
    return notImplemented('changeEncryptionSecret')
  }
  clearEncryptionSecret(): Promise<void> {
    return notImplemented('clearEncryptionSecret')
  }
  checkEncryptionSecret(): Promise<capSQLiteResult> {
    return notImplemented('checkEncryptionSecret')
  }
  echo(): Promise<capEchoResult> {
    return notImplemented('echo')
  }
  beginTransaction(): Promise<capSQLiteChanges> {
    return notImplemented('beginTransaction')
  }
  commitTransaction(): Promise<capSQLiteChanges> {
    return notImplemented('commitTransaction')
  }
  rollbackTransaction(): Promise<capSQLiteChanges> {
    return notImplemented('rollbackTransaction')
  }
  getUrl(): Promise<capSQLiteUrl> {
    return notImplemented('getUrl')
  }
  executeSet(): Promise<capSQLiteChanges> {
    return notImplemented('executeSet')
  }
  isDatabaseEncrypted(): Promise<capSQLiteResult> {
    return notImplemented('isDatabaseEncrypted')
  }
  isInConfigEncryption(): Promise<capSQLiteResult> {
    return notImplemented('isInConfigEncryption')
  }
  isInConfigBiometricAuth(): Promise<capSQLiteResult> {
    return notImplemented('isInConfigBiometricAuth')
  }
  isDatabase(): Promise<capSQLiteResult> {
    return notImplemented('isDatabase')
  }
  isTableExists(): Promise<capSQLiteResult> {
    return notImplemented('isTableExists')
  }
  deleteDatabase(): Promise<void> {
    return notImplemented('deleteDatabase')
  }
  isJsonValid(): Promise<capSQLiteResult> {
    return notImplemented('isJsonValid')
  }
  importFromJson(): Promise<capSQLiteChanges> {
    return notImplemented('importFromJson')
  }
  exportToJson(): Promise<capSQLiteJson> {
    return notImplemented('exportToJson')
  }
  createSyncTable(): Promise<capSQLiteChanges> {
    return notImplemented('createSyncTable')
  }
  setSyncDate(): Promise<void> {
    return notImplemented('setSyncDate')
  }
  getSyncDate(): Promise<capSQLiteSyncDate> {
    return notImplemented('getSyncDate')
  }
  deleteExportedRows(): Promise<void> {
    return notImplemented('deleteExportedRows')
  }
  addUpgradeStatement(): Promise<void> {
    return notImplemented('addUpgradeStatement')
  }
  copyFromAssets(): Promise<void> {
    return notImplemented('copyFromAssets')
  }
  getFromHTTPRequest(): Promise<void> {
    return notImplemented('getFromHTTPRequest')
  }
  getDatabaseList(): Promise<capSQLiteValues> {
    return notImplemented('getDatabaseList')
  }
  getTableList(): Promise<capSQLiteValues> {
    return notImplemented('getTableList')
  }
  getMigratableDbList(): Promise<capSQLiteValues> {
    return notImplemented('getMigratableDbList')
  }
  addSQLiteSuffix(): Promise<void> {
    return notImplemented('addSQLiteSuffix')
  }
  deleteOldDatabases(): Promise<void> {
    return notImplemented('deleteOldDatabases')
  }
  moveDatabasesAndAddSuffix(): Promise<void> {
    return notImplemented('moveDatabasesAndAddSuffix')
  }
  getNCDatabasePath(): Promise<capNCDatabasePathResult> {
    return notImplemented('getNCDatabasePath')
  }
  createNCConnection(): Promise<void> {
    return notImplemented('createNCConnection')
  }
  closeNCConnection(): Promise<void> {
    return notImplemented('closeNCConnection')
  }
  isNCDatabase(): Promise<capSQLiteResult> {
    return notImplemented('isNCDatabase')
  }

  /** Records a call and hands over its options as the JSON bridge would (a `bigint` throws here, as there). */
  #receive(method: string, options: object): Record<string, unknown> {
    const delivered = JSON.parse(JSON.stringify(options)) as Record<string, unknown>
    this.calls.push({ method, options: delivered })
    return delivered
  }

  /** Sends a result back through the JSON bridge. */
  #reply<T>(value: T): T {
    return JSON.parse(JSON.stringify(value)) as T
  }

  #connection(prefix: string, o: Record<string, unknown>, readonly: boolean): NativeConnection {
    const connection = this.#connections.get(connectionKey(String(o.database), readonly))
    if (!connection) throw new Error(`${prefix}: No available connection for database ${o.database}`)
    return connection
  }

  #openDb(prefix: string, o: Record<string, unknown>, readonly: boolean): Database.Database {
    const connection = this.#connection(prefix, o, readonly)
    if (!connection.db?.open) throw new Error(`${prefix}: database ${o.database} not opened`)
    return connection.db
  }

  /**
   * A write as Android's Database.runSQL/execute do it: with `transaction`, BEGIN first (failing
   * when one is open), COMMIT after; `changes` from total_changes(); and, in `finally`, a rollback
   * of whatever transaction is open when `transaction` was asked for.
   */
  #write(
    prefix: string,
    db: Database.Database,
    transaction: boolean,
    work: () => Record<string, unknown>,
  ): capSQLiteChanges {
    const totalChanges = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n
    try {
      const before = totalChanges()
      if (transaction) {
        if (db.inTransaction) throw new Error('Failed in beginTransactionAlready in transaction')
        db.exec('BEGIN')
      }
      const result = work()
      if (transaction) db.exec('COMMIT')
      return { changes: { changes: totalChanges() - before, ...result } }
    } catch (error) {
      throw nativeError(prefix, error)
    } finally {
      if (transaction && db.inTransaction) db.exec('ROLLBACK')
    }
  }

  /** Binds one parameter the way the imitated native side reads it from JSON. */
  #bind(value: unknown, index: number): unknown {
    if (value === null || typeof value !== 'object') {
      // JSON has no booleans in SQLite; both native sides bind them as 1/0.
      return typeof value === 'boolean' ? Number(value) : value
    }
    if (this.#platform === 'android') {
      // UtilsSQLite.objectJSArrayToArrayList: only Buffer JSON becomes a blob.
      if (Array.isArray(value)) {
        throw new Error(`Cannot bind argument at index ${index}: an array is not a supported type`)
      }
      const buffer = value as { type?: unknown; data?: unknown }
      if (buffer.type !== 'Buffer') throw new Error('Object not implemented')
      return Buffer.from(buffer.data as number[])
    }
    // UtilsBinding.bind: [UInt8] or a dictionary of index → byte is a blob; anything else binds nothing (NULL).
    if (Array.isArray(value)) return Buffer.from(value as number[])
    const entries = Object.entries(value)
    if (entries.every(([key, byte]) => /^\d+$/.test(key) && typeof byte === 'number')) {
      return Buffer.from(entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, byte]) => byte as number))
    }
    return null
  }

  #closeAll(): void {
    for (const connection of this.#connections.values()) connection.db?.close()
    this.#connections.clear()
  }
}

function connectionKey(name: string, readonly: boolean): string {
  return `${readonly ? 'RO' : 'RW'}_${name}`
}

/** The message a native rejection carries: the method, then SQLite's message and extended code. */
function nativeError(prefix: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  return new Error(`${prefix}: ${message}${typeof code === 'string' ? ` (code ${code})` : ''}`)
}

function notImplemented(method: string): Promise<never> {
  return Promise.reject(new Error(`${method} is not implemented in the test double`))
}
