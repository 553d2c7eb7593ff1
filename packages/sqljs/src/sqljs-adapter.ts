import {
  booleanOption,
  checkWellFormed,
  createConnectionAdapter,
  integerOption,
  isStorageError,
  type Row,
  type RunResult,
  runExclusive,
  type SqlParams,
  type StorageAdapter,
  type StorageCapabilities,
  StorageError,
  sqliteErrorCode,
} from '@engram/core'
import { loadSqlJs, type SqlJsDatabase, type SqlJsLoadOptions, type SqlJsStatic } from './load-sqljs.js'
import { NodeFileStore } from './node-file-store.js'
import { prepareImage } from './prepare-image.js'
import { BEGIN_SQL, SqlJsConnection } from './sqljs-connection.js'

/** Options for `createSqlJsAdapter`. */
export interface SqlJsConfig extends SqlJsLoadOptions {
  /**
   * A file on Node: loaded when it exists (parent folders are created), and replaced atomically
   * after every commit. `':memory:'` or absent keeps the database in memory only.
   */
  filename?: string
  /** A database image to start from (the bytes of a SQLite file). Not with a `filename`. */
  data?: Uint8Array
  /**
   * Saves the database elsewhere (IndexedDB, a server): called after each commit that changed
   * something, with a complete, consistent image, and awaited before the commit's caller
   * resumes. Not with a `filename`. A `StorageError` it throws reaches the caller as it is
   * (the persister knows best what it means); any other failure becomes `PERSIST_FAILED`.
   */
  persist?: (image: Uint8Array) => void | Promise<void>
  /** The `persistence` capability to report. Default is `'file'` with a `filename`, `'memory'` otherwise. */
  persistence?: StorageCapabilities['persistence']
  /** Enforce foreign keys. Default is `true`. */
  foreignKeys?: boolean
  /** The name reported as `adapter.kind`. Default is `'sqljs'`. */
  kind?: string
  /** Prepared statements kept (the oldest are dropped first). Default is `200`. */
  statementCacheSize?: number
}

/** A `StorageAdapter` on sql.js, with the database image at hand. */
export interface SqlJsAdapter extends StorageAdapter {
  /** Saves now if a commit is not saved yet (after a `PERSIST_FAILED`); does nothing otherwise. */
  flush(): Promise<void>
  /** A consistent image of the database file, taken between transactions, never inside one. */
  export(): Promise<Uint8Array>
  /**
   * Replaces the whole database with `image` (the bytes of a SQLite file), then saves it. An
   * image that is not a usable SQLite database is an `INVALID_ARGUMENT` error and changes nothing.
   */
  import(image: Uint8Array): Promise<void>
}

const PERSISTENCE = new Set<StorageCapabilities['persistence']>(['file', 'server', 'browser', 'memory'])

/**
 * Opens a SQLite database on sql.js (SQLite compiled to WebAssembly), in memory or persisted to
 * a file or a custom store after every commit, and returns it as a `StorageAdapter`.
 *
 * @example
 * const db = await createSqlJsAdapter({ filename: 'data/app.sqlite' })
 */
export async function createSqlJsAdapter(config: SqlJsConfig = {}): Promise<SqlJsAdapter> {
  const options = checkConfig(config)
  let SQL: SqlJsStatic
  try {
    SQL = await loadSqlJs(config)
  } catch (error) {
    throw new StorageError(
      'CONNECTION_FAILED',
      `Could not initialise sql.js: ${(error as Error).message}. In a browser bundle, pass locateFile (or wasmBinary) so sql.js finds sql-wasm-browser.wasm`,
      { cause: error },
    )
  }
  let store: NodeFileStore | undefined
  let image = config.data === undefined ? undefined : prepareImage(config.data, 'data', 'INVALID_ARGUMENT')
  if (options.file !== undefined) {
    store = await openStore(options.file)
    const bytes = await readStore(store)
    if (bytes !== undefined) image = prepareImage(bytes, `The file ${store.path}`, 'CONNECTION_FAILED')
  }
  const source = store ? `the file ${store.path}` : 'data'
  const db = openDatabase(SQL, image, source, store ? 'CONNECTION_FAILED' : 'INVALID_ARGUMENT', false)
  const save = config.persist ?? (store ? (bytes: Uint8Array) => store.write(bytes) : undefined)
  let capabilities: StorageCapabilities
  let connection: SqlJsConnection
  try {
    capabilities = {
      ...detectFeatures(db),
      savepoints: true,
      lastInsertRowid: true,
      concurrency: 'single',
      persistence: config.persistence ?? (store ? 'file' : 'memory'),
    }
    connection = new SqlJsConnection(db, {
      foreignKeys: options.foreignKeys,
      statementCacheSize: options.statementCacheSize,
      trackChanges: save !== undefined,
      exportReopens: exportReopens(SQL),
    })
  } catch (error) {
    db.close()
    throw new StorageError(
      'CONNECTION_FAILED',
      `Could not configure the sql.js database: ${message(error)}`,
      {
        cause: error,
      },
    )
  }
  return new SqlJsStorage({
    SQL,
    kind: config.kind ?? 'sqljs',
    capabilities,
    connection,
    save,
    target: store ? store.path : 'the persist callback',
  })
}

/** Validates the configuration and works out whether a file is involved. */
function checkConfig(config: SqlJsConfig): {
  file?: string
  foreignKeys: boolean
  statementCacheSize: number
} {
  if (config === null || typeof config !== 'object') {
    throw new StorageError('INVALID_ARGUMENT', 'createSqlJsAdapter needs an options object (or nothing)')
  }
  const { filename, persist, persistence, kind } = config
  if (filename !== undefined && typeof filename !== 'string') {
    throw new StorageError('INVALID_ARGUMENT', 'filename must be a path string or ":memory:"')
  }
  // A NUL would cut the path short and a lone surrogate would be re-encoded: another file than the one named.
  if (filename !== undefined) checkWellFormed(filename, 'filename')
  const file = filename === undefined || filename === '' || filename === ':memory:' ? undefined : filename
  if (persist !== undefined && typeof persist !== 'function') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'persist must be a function (image: Uint8Array) => void | Promise<void>',
    )
  }
  if (file !== undefined && persist !== undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'Pass either filename (save to that file) or persist (save it yourself), not both',
    )
  }
  if (file !== undefined && config.data !== undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'Pass either filename or data, not both; to put an image into a file database, open the file and call import(image)',
    )
  }
  if (persistence !== undefined && !PERSISTENCE.has(persistence)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `persistence must be 'file', 'server', 'browser' or 'memory', got ${JSON.stringify(persistence)}`,
    )
  }
  if (kind !== undefined && (typeof kind !== 'string' || kind.length === 0)) {
    throw new StorageError('INVALID_ARGUMENT', 'kind must be a non-empty string')
  }
  const foreignKeys = booleanOption(config.foreignKeys, true, 'foreignKeys')
  const statementCacheSize = integerOption(config.statementCacheSize, 200, 'statementCacheSize', 0)
  return file === undefined ? { foreignKeys, statementCacheSize } : { file, foreignKeys, statementCacheSize }
}

async function openStore(filename: string): Promise<NodeFileStore> {
  if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === undefined) {
    throw new StorageError(
      'UNSUPPORTED',
      "A filename needs Node's file system, which this runtime does not have: in a browser use @engram/indexeddb, or pass persist to save the image yourself",
    )
  }
  try {
    return await NodeFileStore.open(filename)
  } catch (error) {
    throw new StorageError('CONNECTION_FAILED', `Could not prepare ${filename}: ${message(error)}`, {
      cause: error,
    })
  }
}

async function readStore(store: NodeFileStore): Promise<Uint8Array | undefined> {
  try {
    return await store.read()
  } catch (error) {
    throw new StorageError('CONNECTION_FAILED', `Could not read ${store.path}: ${message(error)}`, {
      cause: error,
    })
  }
}

/**
 * Opens `image` (or an empty database) and proves it is a SQLite database by reading its schema;
 * `thorough` also runs `PRAGMA quick_check`, for images that are about to replace good data.
 */
function openDatabase(
  SQL: SqlJsStatic,
  image: Uint8Array | undefined,
  source: string,
  code: 'CONNECTION_FAILED' | 'INVALID_ARGUMENT',
  thorough: boolean,
): SqlJsDatabase {
  let db: SqlJsDatabase | undefined
  try {
    db = new SQL.Database(image !== undefined && image.byteLength > 0 ? image : null)
    db.run('SELECT count(*) FROM sqlite_schema')
    if (thorough) {
      const check = db.prepare('PRAGMA quick_check')
      try {
        const problems: string[] = []
        while (check.step()) problems.push(String(check.get()[0]))
        if (problems.join() !== 'ok') throw new Error(`quick_check found: ${problems.slice(0, 5).join('; ')}`)
      } finally {
        check.free()
      }
    }
    return db
  } catch (error) {
    db?.close()
    throw new StorageError(code, `${capitalise(source)} is not a usable SQLite database: ${message(error)}`, {
      cause: error,
    })
  }
}

/** What this sql.js build offers: sql.js's own build has FTS3/4 but not FTS5; custom builds may differ. */
function detectFeatures(db: SqlJsDatabase): Pick<StorageCapabilities, 'fts' | 'json' | 'returning'> {
  const scalar = (sql: string): unknown => {
    const statement = db.prepare(sql)
    try {
      statement.step()
      return statement.get()[0]
    } finally {
      statement.free()
    }
  }
  const option = (name: string) => scalar(`SELECT sqlite_compileoption_used('${name}')`) === 1
  let json = true
  try {
    scalar(`SELECT json_extract('{"a":1}', '$.a')`)
  } catch {
    json = false
  }
  const [major = 0, minor = 0] = String(scalar('SELECT sqlite_version()')).split('.').map(Number)
  return {
    fts: option('ENABLE_FTS5') ? 'fts5' : option('ENABLE_FTS3') ? 'fts4' : false,
    json,
    returning: major > 3 || (major === 3 && minor >= 35),
  }
}

const reopensOnExport = new WeakMap<SqlJsStatic, boolean>()

/** Whether this sql.js closes and reopens the database in `export()`, as versions before 1.16 do. */
function exportReopens(SQL: SqlJsStatic): boolean {
  const known = reopensOnExport.get(SQL)
  if (known !== undefined) return known
  const scratch = new SQL.Database()
  let reopens: boolean
  try {
    const statement = scratch.prepare('SELECT 1')
    scratch.export()
    try {
      statement.step()
      statement.free()
      reopens = false
    } catch {
      reopens = true
    }
  } finally {
    scratch.close()
  }
  reopensOnExport.set(SQL, reopens)
  return reopens
}

interface SqlJsStorageParts {
  SQL: SqlJsStatic
  kind: string
  capabilities: StorageCapabilities
  connection: SqlJsConnection
  save: ((image: Uint8Array) => void | Promise<void>) | undefined
  /** Where images are saved, for error messages. */
  target: string
}

/**
 * Core's single-connection adapter plus what a snapshot driver adds: saving the image after
 * each commit (from core's `onCommit` hook, while the connection is still held), and
 * export/import/flush run under the same lock as every statement.
 */
class SqlJsStorage implements SqlJsAdapter {
  readonly kind: string
  readonly dialect = 'sqlite' as const
  readonly capabilities: StorageCapabilities
  readonly #SQL: SqlJsStatic
  readonly #inner: StorageAdapter
  readonly #connection: SqlJsConnection
  readonly #save: ((image: Uint8Array) => void | Promise<void>) | undefined
  readonly #target: string
  /** A commit happened that is not saved yet (its save failed, or `import()` is mid-way). */
  #unsaved = false

  constructor(parts: SqlJsStorageParts) {
    this.kind = parts.kind
    this.capabilities = parts.capabilities
    this.#SQL = parts.SQL
    this.#connection = parts.connection
    this.#save = parts.save
    this.#target = parts.target
    this.#inner = createConnectionAdapter({
      kind: parts.kind,
      dialect: 'sqlite',
      capabilities: parts.capabilities,
      connection: parts.connection,
      errorCode: sqliteErrorCode,
      beginSql: BEGIN_SQL,
      // Without a place to save to there is nothing to do after a commit, and core skips the hook's cost.
      ...(parts.save
        ? { onCommit: () => this.#afterCommit(), beforeClose: () => this.#saveBeforeClose() }
        : {}),
    })
  }

  exec(sql: string): Promise<void> {
    return this.#inner.exec(sql)
  }

  run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.#inner.run(sql, params)
  }

  get<T = Row>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.#inner.get<T>(sql, params)
  }

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.#inner.all<T>(sql, params)
  }

  iterate<T = Row>(sql: string, params?: SqlParams): AsyncIterable<T> {
    return this.#inner.iterate<T>(sql, params)
  }

  transaction<T>(fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
    return this.#inner.transaction(fn)
  }

  flush(): Promise<void> {
    return this.#task(() => this.#persist())
  }

  export(): Promise<Uint8Array> {
    return this.#task(() => this.#connection.export())
  }

  async import(image: Uint8Array): Promise<void> {
    const prepared = prepareImage(image, 'The image given to import()', 'INVALID_ARGUMENT')
    // An empty image is a valid empty database, but far more likely a read that went wrong.
    if (prepared.byteLength === 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'The image given to import() is empty; to empty the database, drop its tables instead',
      )
    }
    await this.#task(async () => {
      const db = openDatabase(this.#SQL, prepared, 'the image given to import()', 'INVALID_ARGUMENT', true)
      this.#connection.replace(db)
      this.#unsaved = this.#save !== undefined
      await this.#persist()
    })
  }

  close(): Promise<void> {
    return this.#inner.close()
  }

  /** Saves what is unsaved; on failure core keeps the adapter open, so the caller can retry. */
  async #saveBeforeClose(): Promise<void> {
    try {
      await this.#persist()
    } catch (error) {
      if (!isStorageError(error, 'PERSIST_FAILED')) throw error
      throw new StorageError(
        'PERSIST_FAILED',
        `${error.message} close() left the database open so nothing is lost; call close() again once saving works`,
        { cause: error.cause },
      )
    }
  }

  /** After every call outside a transaction and every committed transaction: save if content changed. */
  async #afterCommit(): Promise<void> {
    if (!this.#connection.takeCommittedChange()) return
    this.#unsaved = true
    await this.#persist()
  }

  async #persist(): Promise<void> {
    const save = this.#save
    if (!this.#unsaved || save === undefined) return
    try {
      await save(this.#connection.export())
    } catch (error) {
      if (error instanceof StorageError) throw error
      throw new StorageError(
        'PERSIST_FAILED',
        `Could not save the database to ${this.#target}: ${message(error)}. The data is committed in memory and kept; the next commit or flush() tries to save it again.`,
        { cause: error },
      )
    }
    this.#unsaved = false
  }

  /** Runs `work` under core's lock, so it never overlaps a statement or sits inside a transaction. */
  #task<T>(work: () => T | Promise<T>): Promise<T> {
    return runExclusive(this.#inner, work)
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
