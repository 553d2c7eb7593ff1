import { type StorageAdapter, StorageError, type VectorStore } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'

/**
 * The vector store that fits the structured store: `@engram/sqlite-vector` on SQLite (with the
 * HNSW tier when `@engram/hnsw-sidecar` is installed and the database has a file or lives in
 * memory), `@engram/postgres`'s pgvector store on Postgres. Neither closes `storage`.
 */
export async function defaultVectorStore(
  storage: StorageAdapter,
  path: string | undefined,
  exactBelow: number | undefined,
): Promise<VectorStore> {
  if (storage.dialect === 'postgres') {
    let module: { createPgVectorStore?: (config: { adapter: StorageAdapter }) => VectorStore }
    try {
      module = await import(/* @vite-ignore */ '@engram/postgres')
    } catch (error) {
      throw new StorageError(
        'DRIVER_NOT_INSTALLED',
        'A Postgres memory needs @engram/postgres for its vectors: pnpm add @engram/postgres (or pass vectors)',
        { cause: error },
      )
    }
    if (!module.createPgVectorStore)
      throw new StorageError('DRIVER_NOT_INSTALLED', '@engram/postgres has no createPgVectorStore')
    return module.createPgVectorStore({ adapter: storage })
  }
  const annPath = path ?? (storage.capabilities.persistence === 'memory' ? ':memory:' : undefined)
  const withAnn = annPath !== undefined && (await hasSidecar())
  return createSqliteVectorStore({
    adapter: storage,
    ...(withAnn ? { ann: { path: annPath } } : {}),
    ...(exactBelow === undefined ? {} : { exactBelow }),
  })
}

async function hasSidecar(): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ '@engram/hnsw-sidecar')
    return true
  } catch {
    return false
  }
}
