import { existsSync } from 'node:fs'
import {
  createDatabase,
  type DatabaseOptions,
  installCommand,
  type StorageAdapter,
  StorageError,
  type VectorStore,
} from '@engram/core'

/** The shapes older engram-like libraries used, accepted so their users can switch: `{ type: 'sqlite', path }`, `{ type: 'postgres', connectionString }`. */
export interface SeedDatabaseOptions {
  /** `'sqlite'` or `'postgres'`. */
  type: 'sqlite' | 'postgres'
  /** The SQLite file. */
  path?: string
  /** The SQLite file or the Postgres URL. */
  connection?: string
  /** The Postgres URL. */
  connectionString?: string
  /** Not supported: engram never provisions servers; start PostgreSQL yourself and pass its URL. */
  autoSetup?: boolean
}

/** A SQL database: what `createDatabase` accepts (a path, a URL, options), an older library's shape, or an open adapter. */
export type SqlEndpoint = string | DatabaseOptions | SeedDatabaseOptions | StorageAdapter

/**
 * One side of a migration: a SQL database (see `SqlEndpoint`), a `VectorStore`, or both as
 * `{ storage, vectors }` (a `Memory` is one: it has both).
 */
export type MigrationEndpoint = SqlEndpoint | VectorStore | { storage?: SqlEndpoint; vectors?: VectorStore }

/** Opens the vector store that lives in a SQL database, for endpoints given without one. */
export type VectorStoreOpener = (adapter: StorageAdapter) => VectorStore | Promise<VectorStore>

/** An endpoint once opened. */
export interface OpenedEndpoint {
  /** The SQL side, if any. */
  readonly storage: StorageAdapter | undefined
  /** Whether `storage` was opened here, so nothing else writes through it. */
  readonly ownsStorage: boolean
  /** A SQLite file that does not exist yet, left unopened because this is a dry run. */
  readonly missingFile: string | undefined
  /** A description for messages and the default migration id; never holds a password. */
  readonly label: string
  /** The vector store given, or the default one on `storage` (opened on first call); `undefined` when there is neither. */
  vectors(): Promise<VectorStore | undefined>
  /** Whether the caller gave a vector store (rather than only a SQL database). */
  readonly givenVectors: boolean
  /** Closes what this endpoint opened (never what the caller gave). */
  close(): Promise<void>
}

/** Options for `openEndpoint`. */
export interface OpenEndpointOptions {
  /** A source must exist; a dry-run target is never created. */
  readonly role: 'source' | 'target'
  /** Touch nothing: a missing SQLite target stays missing, an existing one opens read-only. */
  readonly dryRun?: boolean
  /** How to open the vector store of a SQL endpoint given without one. */
  readonly vectorStore?: VectorStoreOpener
}

/** Opens one side of a migration. */
export async function openEndpoint(
  endpoint: MigrationEndpoint,
  options: OpenEndpointOptions,
): Promise<OpenedEndpoint> {
  if (endpoint === undefined || endpoint === null) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `migrate() needs ${options.role === 'source' ? 'from' : 'to'}: a path, a URL, an adapter or a vector store`,
    )
  }
  let given: VectorStore | undefined
  let sql: SqlEndpoint | undefined
  if (isVectorStore(endpoint)) {
    given = endpoint
  } else if (isAdapter(endpoint) || typeof endpoint === 'string') {
    sql = endpoint
  } else if (typeof endpoint === 'object' && ('storage' in endpoint || 'vectors' in endpoint)) {
    const pair = endpoint as { storage?: SqlEndpoint; vectors?: VectorStore }
    sql = pair.storage
    given = pair.vectors
    if (given !== undefined && !isVectorStore(given)) {
      throw new StorageError('INVALID_ARGUMENT', 'vectors must be a VectorStore (upsert, scan, …)')
    }
  } else {
    sql = endpoint as SqlEndpoint
  }
  let storage: StorageAdapter | undefined
  let ownsStorage = false
  let missingFile: string | undefined
  let label = given?.kind ?? 'vector store'
  if (sql !== undefined) {
    if (isAdapter(sql)) {
      storage = sql
      label = sql.kind
    } else {
      const request = toDatabaseOptions(sql)
      const file = sqliteFile(request)
      label = describe(request, file)
      if (file !== undefined && file !== ':memory:' && !existsSync(file)) {
        if (options.role === 'source') {
          throw new StorageError('NOT_FOUND', `The source database ${file} does not exist; check the path`)
        }
        if (options.dryRun) missingFile = file
      }
      if (missingFile === undefined) {
        const readOnly = options.dryRun && file !== undefined && file !== ':memory:'
        storage = await createDatabase(
          (readOnly ? { ...request, readonly: true, fileMustExist: true } : request) as DatabaseOptions,
        )
        ownsStorage = true
      }
    }
  }
  let opened: Promise<VectorStore> | undefined
  const opener = options.vectorStore ?? defaultVectorStore
  return {
    storage,
    ownsStorage,
    missingFile,
    label,
    givenVectors: given !== undefined,
    vectors() {
      if (given !== undefined) return Promise.resolve(given)
      if (storage === undefined) return Promise.resolve(undefined)
      const adapter = storage
      opened ??= Promise.resolve().then(() => opener(adapter))
      return opened
    },
    async close() {
      if (opened !== undefined) await (await opened.catch(() => undefined))?.close().catch(() => undefined)
      if (ownsStorage) await storage?.close()
    },
  }
}

function isAdapter(value: unknown): value is StorageAdapter {
  const candidate = value as Partial<StorageAdapter> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.exec === 'function' &&
    typeof candidate.transaction === 'function' &&
    typeof candidate.dialect === 'string'
  )
}

function isVectorStore(value: unknown): value is VectorStore {
  const candidate = value as Partial<VectorStore> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.upsert === 'function' &&
    typeof candidate.scan === 'function' &&
    typeof candidate.createCollection === 'function'
  )
}

const VECTOR_TYPES = new Set(['qdrant', 'pinecone', 'supabase', 'pgvector', 'sqlite-vector'])

function toDatabaseOptions(sql: Exclude<SqlEndpoint, StorageAdapter>): DatabaseOptions {
  if (typeof sql === 'string') return { url: sql }
  if (typeof sql !== 'object' || sql === null) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `A database must be a path, a URL or options, got ${typeof sql}`,
    )
  }
  const options = sql as Record<string, unknown>
  if (options.autoSetup) {
    throw new StorageError(
      'UNSUPPORTED',
      'engram does not provision servers (autoSetup): start PostgreSQL with pgvector yourself (the repository has a docker-compose.yml) and pass { type: "postgres", connectionString }',
    )
  }
  if (typeof options.type === 'string' && VECTOR_TYPES.has(options.type)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `{ type: '${options.type}' } is a vector store, not a database: open it (for example with its package's create…VectorStore) and pass the store itself`,
    )
  }
  const { path, connection, autoSetup: _autoSetup, ...rest } = options
  if (options.type === 'sqlite') {
    const { type: _type, ...others } = rest
    const filename = (path ?? connection ?? options.filename) as string | undefined
    if (typeof filename !== 'string') {
      throw new StorageError('INVALID_ARGUMENT', "{ type: 'sqlite' } needs a path")
    }
    return { ...others, filename } as DatabaseOptions
  }
  if (
    options.type === 'postgres' &&
    options.connectionString === undefined &&
    typeof connection === 'string'
  ) {
    return { ...rest, connectionString: connection } as DatabaseOptions
  }
  return rest as DatabaseOptions
}

/** The SQLite file a request names, or `undefined` for Postgres (and for options naming neither). */
function sqliteFile(request: DatabaseOptions): string | undefined {
  const url = request.url ?? request.connectionString
  if (typeof url === 'string') {
    if (/^postgres(ql)?:\/\//i.test(url)) return undefined
    if (url.startsWith('file:'))
      return decodeURIComponent(url.slice(5).replace(/^\/\/(localhost)?(?=\/)/, ''))
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined
    return url
  }
  if (request.type === 'postgres') return undefined
  return typeof request.filename === 'string' ? request.filename : undefined
}

function describe(request: DatabaseOptions, file: string | undefined): string {
  if (file !== undefined) return file
  const url = request.url ?? request.connectionString
  if (typeof url === 'string') {
    try {
      const parsed = new URL(url)
      parsed.password = ''
      return parsed.toString()
    } catch {
      return 'postgres'
    }
  }
  return String(request.type ?? 'database')
}

/** `@engram/sqlite-vector` on SQLite, `@engram/postgres`'s pgvector store on Postgres, imported when first needed. */
async function defaultVectorStore(adapter: StorageAdapter): Promise<VectorStore> {
  const [specifier, factory] =
    adapter.dialect === 'postgres'
      ? ['@engram/postgres', 'createPgVectorStore']
      : ['@engram/sqlite-vector', 'createSqliteVectorStore']
  let module: Record<string, unknown>
  try {
    module = await import(/* @vite-ignore */ specifier)
  } catch (error) {
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      `Moving the vectors of a ${adapter.dialect} database needs ${specifier}: ${installCommand(specifier)}, or pass { storage, vectors } with a store you opened`,
      { cause: error },
    )
  }
  const create = module[factory]
  if (typeof create !== 'function') {
    throw new StorageError('DRIVER_NOT_INSTALLED', `${specifier} has no ${factory}; upgrade it`)
  }
  return (create as (config: { adapter: StorageAdapter }) => VectorStore)({ adapter })
}
