import initSqlJs from 'sql.js'

/** The part of a sql.js prepared statement this package uses. */
export interface SqlJsStatement {
  /** Resets the statement and binds positional values. */
  bind(values?: unknown[] | null): boolean
  /** Steps to the next row; `false` when there is none. */
  step(): boolean
  /** The current row's values; `useBigInt` reads integers as `bigint`. */
  get(params?: null, config?: { useBigInt?: boolean }): unknown[]
  /** The result's column names, in order. */
  getColumnNames(): string[]
  /** Resets the statement so it can run again. */
  reset(): unknown
  /** Finalises the statement. */
  free(): boolean
}

/** The part of a sql.js database this package uses. */
export interface SqlJsDatabase {
  /** Runs a script without parameters (sqlite3_exec). */
  run(sql: string): unknown
  /** Prepares the first statement of `sql`. */
  prepare(sql: string): SqlJsStatement
  /** Returns a copy of the database file. */
  export(): Uint8Array
  /** Rows changed by the latest INSERT, UPDATE or DELETE (sqlite3_changes). */
  getRowsModified(): number
  /** Closes the database and frees its statements. */
  close(): void
}

/**
 * An initialised sql.js module, as `initSqlJs()` resolves it. Only `Database` is used, so any
 * build of sql.js (WASM, asm.js, a worker-less custom build) fits.
 */
export interface SqlJsStatic {
  /** Opens a database, empty or from a file image. */
  Database: new (
    data?: ArrayLike<number> | null,
  ) => SqlJsDatabase
}

/** How to initialise sql.js when no module is passed in. */
export interface SqlJsLoadOptions {
  /** An already-initialised sql.js module; the other options are then unused. */
  sqlJs?: SqlJsStatic
  /** Maps the `.wasm` file name to the URL or path it is served from. */
  locateFile?: (file: string, prefix: string) => string
  /** The `.wasm` bytes, so nothing is fetched. */
  wasmBinary?: ArrayBuffer | Uint8Array
}

/**
 * Returns the given sql.js module or initialises the bundled one. sql.js initialises once per
 * JavaScript realm: a second call reuses the first module, whatever options it was given.
 */
export async function loadSqlJs(options: SqlJsLoadOptions): Promise<SqlJsStatic> {
  if (options.sqlJs !== undefined) return options.sqlJs
  const config: { locateFile?: (file: string, prefix: string) => string; wasmBinary?: ArrayBuffer } = {}
  if (options.locateFile !== undefined) config.locateFile = options.locateFile
  if (options.wasmBinary !== undefined) config.wasmBinary = toArrayBuffer(options.wasmBinary)
  return (await initSqlJs(config)) as unknown as SqlJsStatic
}

function toArrayBuffer(bytes: ArrayBuffer | Uint8Array): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes
  return bytes.slice().buffer as ArrayBuffer
}
