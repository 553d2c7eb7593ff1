import type { VectorStore } from '@engram/core'
import type { SqliteVectorStore } from '@engram/sqlite-vector'

/**
 * Waits until a SQLite store's HNSW index answers with every record. The SQLite tier builds its
 * index in a worker after a bulk load and searches exactly meanwhile, so a row that times its ANN
 * path calls this first and reports the wait as the build. Other stores resolve at once.
 */
export async function annReady(store: VectorStore, collection: string): Promise<void> {
  if ('annStatus' in store) await (store as SqliteVectorStore).buildIndex(collection)
}
