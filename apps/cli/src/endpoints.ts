import { existsSync } from 'node:fs'
import {
  createDatabase,
  registerDriver,
  type StorageAdapter,
  StorageError,
  type VectorStore,
} from '@engram/core'
import type { MigrationEndpoint } from '@engram/migrate'
import { VECTOR_STORE_URLS } from './vector-store-urls.js'

/**
 * Vector stores that a URL names by its scheme, such as `qdrant://host:6333`: each entry opens
 * the store for a URL. A store package that lands adds its one line here.
 */
export const VECTOR_STORE_SCHEMES: Readonly<Record<string, (url: string) => Promise<VectorStore>>> =
  VECTOR_STORE_URLS

/** The scheme of a URL (`postgres`, `qdrant`), or `undefined` for a path. */
function schemeOf(text: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase()
}

/** The vector store a URL names, or `undefined` when it names a database. */
export async function openVectorStoreUrl(text: string): Promise<VectorStore | undefined> {
  const scheme = schemeOf(text)
  const open = scheme === undefined ? undefined : VECTOR_STORE_SCHEMES[scheme]
  return open ? open(text) : undefined
}

let registered: Promise<void> | undefined

/**
 * Registers the drivers the CLI ships with, so `createDatabase` finds them however the CLI was
 * installed (a global install does not let core import them by name).
 */
export function registerDrivers(): Promise<void> {
  registered ??= (async () => {
    for (const name of ['@engram/sqlite-native', '@engram/postgres']) {
      try {
        const module = (await import(name)) as { driver?: Parameters<typeof registerDriver>[0] }
        if (module.driver) registerDriver(module.driver)
      } catch {
        // A driver whose native code does not load is reported by `engram doctor`; the others still work.
      }
    }
  })()
  return registered
}

/** The vector store that lives in a database: `@engram/sqlite-vector` on SQLite, pgvector on Postgres. */
export async function vectorStoreFor(adapter: StorageAdapter): Promise<VectorStore> {
  if (adapter.dialect === 'postgres') {
    const { createPgVectorStore } = await import('@engram/postgres')
    return createPgVectorStore({ adapter })
  }
  const { createSqliteVectorStore } = await import('@engram/sqlite-vector')
  return createSqliteVectorStore({ adapter })
}

/** What a `<db>` argument means to `migrate` and `verify`: a vector store, or the text itself (a path or database URL). */
export async function resolveEndpoint(text: string): Promise<MigrationEndpoint> {
  await registerDrivers()
  return (await openVectorStoreUrl(text)) ?? text
}

/** An opened `<db>` argument. */
export interface OpenedDatabase {
  /** The SQL database, unless the argument names a vector store. */
  readonly storage: StorageAdapter | undefined
  /** The vector store: the one named, or the one in the database (opened on first use). */
  vectors(): Promise<VectorStore>
  /** Closes everything opened here. */
  close(): Promise<void>
}

/** Opens a `<db>` argument for reading or writing; a SQLite path must exist unless `create` is set. */
export async function openDatabase(
  text: string,
  options: { create?: boolean } = {},
): Promise<OpenedDatabase> {
  const named = await openVectorStoreUrl(text)
  if (named) return { storage: undefined, vectors: async () => named, close: () => named.close() }
  await registerDrivers()
  const scheme = schemeOf(text)
  if (
    scheme === undefined &&
    text !== ':memory:' &&
    !options.create &&
    !existsSync(text.replace(/^file:/, ''))
  ) {
    throw new StorageError('NOT_FOUND', `There is no database at ${text}; check the path`)
  }
  const storage = await createDatabase(text)
  let store: Promise<VectorStore> | undefined
  return {
    storage,
    vectors() {
      store ??= vectorStoreFor(storage)
      return store
    },
    async close() {
      if (store) await (await store.catch(() => undefined))?.close()
      await storage.close()
    },
  }
}
