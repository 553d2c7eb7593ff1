import type { VectorStore } from '@engram/core'

/**
 * Waits until a store's ANN index answers. The SQLite tier builds its HNSW index in a worker
 * after a bulk load, and a Memory on PostgreSQL builds pgvector's in the background on its first
 * recall; both search exactly meanwhile, so a row that times its ANN path calls this first and
 * reports the wait as the build. Stores without `buildIndex` resolve at once.
 */
export async function annReady(store: VectorStore, collection: string): Promise<void> {
  const buildable = store as VectorStore & { buildIndex?: (collection: string) => Promise<unknown> }
  if (typeof buildable.buildIndex === 'function') await buildable.buildIndex(collection)
}
