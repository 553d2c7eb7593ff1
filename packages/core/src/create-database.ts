import { installCommand } from './install-command.js'
import type { SqlDialect, StorageAdapter } from './storage-adapter.js'
import { StorageError } from './storage-error.js'

/** The options every `createDatabase` call understands, whatever the driver. */
export interface CommonDatabaseOptions {
  /** A connection URL: `postgres://…` or `postgresql://…` for Postgres; a path or `file:` URL for SQLite. */
  url?: string
  /** A Postgres connection string; the same as `url`. */
  connectionString?: string
  /** A SQLite file path, or `':memory:'`. */
  filename?: string
  /** Called with the driver that was opened and why earlier candidates were skipped; not passed to the driver. */
  onSelect?: (choice: DriverChoice) => void
}

/**
 * The options of each driver, by type. Driver packages add theirs by declaration merging, so
 * `createDatabase({ type: 'postgres', … })` is type-checked against `PostgresConfig` wherever
 * `@engram/postgres` is part of the program:
 *
 * @example
 * declare module '@engram/core' {
 *   interface DriverOptions {
 *     'my-driver': MyDriverConfig
 *   }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by driver packages through declaration merging
export interface DriverOptions {}

/**
 * `createDatabase` options for one driver type: its declared options when a driver package
 * declared them in `DriverOptions`, any options otherwise (a plugin that declares none).
 */
export type DriverDatabaseOptions<T extends string> = { type: T } & CommonDatabaseOptions &
  (T extends keyof DriverOptions ? DriverOptions[T] : { [option: string]: unknown })

/** `createDatabase` options without a driver type: `type: 'auto'` (or none) picks one for the runtime. */
export interface AutoDatabaseOptions extends CommonDatabaseOptions {
  /** `'auto'` tries the runtime's drivers in order. Default is `'auto'`. */
  type?: 'auto'
}

/** Options for `createDatabase`: one driver's, or the runtime's choice (`type: 'auto'`). */
export type DatabaseOptions = AutoDatabaseOptions | DriverDatabaseOptions<string>

/** Which driver `createDatabase` opened, as reported to `onSelect`. */
export interface DriverChoice {
  /** The driver's type, as `adapter.kind` usually reports it too. */
  readonly type: string
  /** The runtime `type: 'auto'` chose for. */
  readonly runtime: EngramRuntime
  /** The candidates tried before it, each as `"<type>: <why it could not be used>"`. */
  readonly attempts: readonly string[]
}

/** A storage driver as the registry knows it: a name, a dialect and a way to open it. */
export interface DriverDefinition<T extends string = string> {
  /** The name `createDatabase({ type })` selects it by. */
  readonly type: T
  /** The dialect its adapters speak. */
  readonly dialect: SqlDialect
  /**
   * Opens an adapter from the caller's options (`type`, and `url` split into `connectionString`
   * or `filename`, already resolved). Throw a `StorageError` with code `UNSUPPORTED` if this
   * runtime cannot host it.
   */
  open(options: DriverDatabaseOptions<T>): Promise<StorageAdapter>
}

/** Which runtime `type: 'auto'` is choosing for. */
export type EngramRuntime = 'node' | 'browser' | 'capacitor'

/** The drivers `type: 'auto'` tries, in order, on each runtime. */
export const AUTO_DRIVERS: Readonly<Record<EngramRuntime, readonly string[]>> = {
  node: ['sqlite-native', 'sqljs'],
  browser: ['indexeddb', 'sqljs'],
  capacitor: ['capacitor', 'indexeddb', 'sqljs'],
}

const SQLITE_DRIVERS: Readonly<Record<EngramRuntime, readonly string[]>> = {
  node: ['sqlite-native', 'sqljs'],
  browser: ['sqljs'],
  capacitor: ['capacitor', 'sqljs'],
}

const registry = new Map<string, DriverDefinition>()

/** Makes a driver available to `createDatabase` by its `type`, replacing one of the same name. */
export function registerDriver<T extends string>(driver: DriverDefinition<T>): void {
  if (!driver || typeof driver.type !== 'string' || typeof driver.open !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'registerDriver() needs { type, dialect, open }')
  }
  registry.set(driver.type, driver as unknown as DriverDefinition)
}

/** Tells which runtime this code is running in. */
export function detectRuntime(): EngramRuntime {
  const g = globalThis as {
    Capacitor?: { isNativePlatform?: () => boolean }
    process?: { versions?: { node?: string } }
    window?: unknown
  }
  if (g.Capacitor?.isNativePlatform?.()) return 'capacitor'
  if (g.process?.versions?.node && g.window === undefined) return 'node'
  return 'browser'
}

/**
 * Opens a database.
 *
 * @example
 * await createDatabase('./data/app.db')                       // SQLite file
 * await createDatabase('postgres://app@db.internal/app')      // Postgres, always
 * await createDatabase({ type: 'sqljs', filename: ':memory:' }) // one driver, explicitly
 */
export async function createDatabase<T extends string = 'auto'>(
  options: string | AutoDatabaseOptions | DriverDatabaseOptions<T>,
): Promise<StorageAdapter> {
  if (typeof options !== 'string' && (typeof options !== 'object' || options === null)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `createDatabase() needs a URL, a file path or an options object, got ${options === null ? 'null' : typeof options}. If you passed process.env.DATABASE_URL, it is not set.`,
    )
  }
  // Declared drivers' options are checked where the call is written; from here on they are data.
  const given = (typeof options === 'string' ? { url: options } : options) as DatabaseOptions
  const { onSelect, ...request } = given
  if (onSelect !== undefined && typeof onSelect !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'onSelect must be a function (choice) => void')
  }
  const runtime = detectRuntime()
  const { candidates, resolved } = plan(request, runtime)
  const attempts: string[] = []
  for (const type of candidates) {
    let driver: DriverDefinition
    try {
      driver = await loadDriver(type)
    } catch (error) {
      if (candidates.length === 1) throw error
      attempts.push(`${type}: ${(error as Error).message}`)
      continue
    }
    let adapter: StorageAdapter
    try {
      adapter = await driver.open({ ...resolved, type })
    } catch (error) {
      // Only a driver that cannot run here lets `auto` move on; a real failure is the answer.
      if (candidates.length > 1 && error instanceof StorageError && error.code === 'UNSUPPORTED') {
        attempts.push(`${type}: ${error.message}`)
        continue
      }
      throw error
    }
    try {
      onSelect?.({ type, runtime, attempts })
    } catch (error) {
      await adapter.close().catch(() => undefined)
      throw error
    }
    return adapter
  }
  throw new StorageError(
    'DRIVER_NOT_INSTALLED',
    `No storage driver could be opened on ${runtime}. Tried:\n  - ${attempts.join('\n  - ')}`,
  )
}

/** Works out which drivers a request may use, and the options they receive. */
function plan(
  request: DatabaseOptions,
  runtime: EngramRuntime,
): { candidates: readonly string[]; resolved: DatabaseOptions } {
  const type = request.type ?? 'auto'
  const url = request.url ?? request.connectionString
  if (type !== 'auto') {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(type) && !registry.has(type)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `"${type}" is not a driver type; expected a name like "sqlite-native"`,
      )
    }
    return { candidates: [type], resolved: url === undefined ? request : withUrl(request, url) }
  }
  if (url !== undefined) {
    const target = withUrl(request, url)
    return { candidates: target.connectionString ? ['postgres'] : SQLITE_DRIVERS[runtime], resolved: target }
  }
  if (request.filename !== undefined) return { candidates: SQLITE_DRIVERS[runtime], resolved: request }
  return { candidates: AUTO_DRIVERS[runtime], resolved: request }
}

/** Splits a URL into `connectionString` (Postgres) or `filename` (SQLite). */
function withUrl(request: DatabaseOptions, url: string): DatabaseOptions {
  if (typeof url !== 'string' || url.length === 0) {
    throw new StorageError('INVALID_ARGUMENT', 'The database URL must be a non-empty string')
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql') return { ...request, url, connectionString: url }
  if (url.startsWith('file:')) {
    const path = decodeURIComponent(url.slice('file:'.length).replace(/^\/\/(localhost)?(?=\/)/, ''))
    return { ...request, url, filename: path }
  }
  if (scheme !== undefined && scheme.length > 1) {
    throw new StorageError(
      'UNSUPPORTED',
      `No engram driver handles ${scheme}:// URLs; use postgres://, a file path or file:`,
    )
  }
  return { ...request, url, filename: url }
}

/** Finds a registered driver, or imports `@engram/<type>` and registers its `driver` export. */
async function loadDriver(type: string): Promise<DriverDefinition> {
  const known = registry.get(type)
  if (known) return known
  const specifier = `@engram/${type}`
  let module: { driver?: DriverDefinition }
  try {
    module = await import(/* @vite-ignore */ specifier)
  } catch (error) {
    const missing = (error as { code?: string }).code
    const notFound =
      (missing === 'ERR_MODULE_NOT_FOUND' || missing === 'MODULE_NOT_FOUND') &&
      String((error as Error).message).includes(specifier)
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      notFound
        ? `${specifier} is not installed; add it with "${installCommand(specifier)}" (or register the driver with registerDriver())`
        : `${specifier} could not be loaded: ${(error as Error).message}. In a bundled app, register the driver instead: import { driver } from '${specifier}'; registerDriver(driver)`,
      { cause: error },
    )
  }
  if (!module.driver || typeof module.driver.open !== 'function') {
    throw new StorageError('DRIVER_NOT_INSTALLED', `${specifier} does not export an engram driver`)
  }
  registry.set(type, module.driver)
  return module.driver
}
