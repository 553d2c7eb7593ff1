import { type StorageAdapter, StorageError } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import type { VectorStoreFactory } from './same-database-vectors.js'

/**
 * The vector store that fits the structured store, as a factory on an adapter, because it keeps
 * its vectors in the same database: `@engram/sqlite-vector` on SQLite (with the HNSW tier when
 * `@engram/hnsw-sidecar` is installed and the database has a file or lives in memory),
 * `@engram/postgres`'s pgvector store on Postgres. Neither closes the adapter it is given.
 */
export async function defaultVectorStore(
  storage: StorageAdapter,
  path: string | undefined,
  exactBelow: number | undefined,
): Promise<VectorStoreFactory> {
  if (storage.dialect === 'postgres') {
    let module: { createPgVectorStore?: VectorStoreFactoryOf<{ adapter: StorageAdapter }> }
    try {
      module = await import(/* @vite-ignore */ '@engram/postgres')
    } catch (error) {
      throw new StorageError(
        'DRIVER_NOT_INSTALLED',
        'A Postgres memory needs @engram/postgres for its vectors: pnpm add @engram/postgres (or pass vectors)',
        { cause: error },
      )
    }
    const { createPgVectorStore } = module
    if (!createPgVectorStore)
      throw new StorageError('DRIVER_NOT_INSTALLED', '@engram/postgres has no createPgVectorStore')
    return (adapter) => createPgVectorStore({ adapter })
  }
  const annPath = path ?? (storage.capabilities.persistence === 'memory' ? ':memory:' : undefined)
  const withAnn = annPath !== undefined && (await hasSidecar())
  const settings = {
    ...(withAnn ? { ann: { path: annPath } } : {}),
    ...(exactBelow === undefined ? {} : { exactBelow }),
  }
  return (adapter) => createSqliteVectorStore({ adapter, ...settings })
}

type VectorStoreFactoryOf<C> = (config: C) => ReturnType<VectorStoreFactory>

async function hasSidecar(): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ '@engram/hnsw-sidecar')
    return true
  } catch {
    return false
  }
}
