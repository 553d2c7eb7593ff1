import { detectRuntime, installCommand, type StorageAdapter, StorageError } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import type { VectorStoreFactory } from './same-database-vectors.js'

/** Records per collection before the embedded default's vector search leaves the exact scan. */
export const DEFAULT_EXACT_BELOW = 1000

/**
 * The vector store that fits the structured store, as a factory on an adapter, because it keeps
 * its vectors in the same database: `@engram/sqlite-vector` on SQLite (with the HNSW tier when
 * `@engram/hnsw-sidecar` loads and the database has a file or lives in memory),
 * `@engram/postgres`'s pgvector store on Postgres. Neither closes the adapter it is given.
 * `path` is the SQLite file `Memory.open` was told to use, where the HNSW index is kept beside it.
 * When the SQLite store can have no HNSW tier, `exactOnly` is told why and what to do about it.
 */
export async function defaultVectorStore(
  storage: StorageAdapter,
  path: string | undefined,
  exactBelow: number,
  exactOnly: (reason: string) => void,
): Promise<VectorStoreFactory> {
  if (storage.dialect === 'postgres') {
    let module: {
      createPgVectorStore?: VectorStoreFactoryOf<{ adapter: StorageAdapter; buildIndexInBackground: boolean }>
    }
    try {
      module = await import(/* @vite-ignore */ '@engram/postgres')
    } catch (error) {
      throw new StorageError(
        'DRIVER_NOT_INSTALLED',
        `A Postgres memory keeps its vectors with @engram/postgres's pgvector store: add it with "${installCommand('@engram/postgres')}", or pass vectors`,
        { cause: error },
      )
    }
    const { createPgVectorStore } = module
    if (!createPgVectorStore)
      throw new StorageError('DRIVER_NOT_INSTALLED', '@engram/postgres has no createPgVectorStore')
    // As on SQLite, no recall waits for an index build: exact search answers until it is ready.
    return (adapter) => createPgVectorStore({ adapter, buildIndexInBackground: true })
  }
  // The HNSW sidecar is a Node addon; elsewhere (a browser, a phone) search is exact by design, not by omission.
  if (detectRuntime() !== 'node') return (adapter) => createSqliteVectorStore({ adapter, exactBelow })
  const annPath = path ?? (storage.capabilities.persistence === 'memory' ? ':memory:' : undefined)
  const missing = await sidecarProblem()
  if (annPath === undefined || missing !== undefined) {
    // An adapter does not say which file it has open (sql.js reports a virtual one), so the
    // index, which lives beside that file, is only made where the file was named.
    exactOnly(
      missing ??
        `the HNSW index is kept beside the database file and Memory.open was not told its name (a ${storage.kind} adapter or a file: URL given as storage does not say it): pass the file as storage ('./data/memory.db'), name it with path next to storage, or give vectors: (adapter) => createSqliteVectorStore({ adapter, ann: { path } })`,
    )
    return (adapter) => createSqliteVectorStore({ adapter, exactBelow })
  }
  // Writers leave index builds to the reader, which Memory asks to start them after each commit.
  return (adapter, role) =>
    createSqliteVectorStore({
      adapter,
      ann: { path: annPath, buildAfterWrites: role === 'reader' },
      exactBelow,
    })
}

type VectorStoreFactoryOf<C> = (config: C) => ReturnType<VectorStoreFactory>

/** Why `@engram/hnsw-sidecar` cannot be used here, or `undefined` when it loads. */
async function sidecarProblem(): Promise<string | undefined> {
  const name = '@engram/hnsw-sidecar'
  try {
    await import(/* @vite-ignore */ name)
    return undefined
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const message = String((error as Error).message)
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(name)) {
      return `${name} is not installed (add it with "${installCommand(name)}")`
    }
    return `${name} could not be loaded (${message}); if its native module hnswlib-node was not built, rebuild it or allow its build script`
  }
}
