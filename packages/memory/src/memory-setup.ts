/** The checks and defaults behind `Memory.open` and the batch options of `rememberMany` and `ingest`. */
import { integerOption, StorageError, type VectorStore } from '@engram/core'
import type { Embedder } from './embedder.js'
import { describeValue } from './memory-input.js'

/** Asks the embedder once, so the dimension is measured rather than assumed. */
export async function measureDimensions(embed: Embedder, expected: number | undefined): Promise<number> {
  if (typeof embed !== 'function')
    throw new StorageError('INVALID_ARGUMENT', 'embed must be a function (texts) => vectors')
  if (expected !== undefined) integerOption(expected, 0, 'dimensions')
  const [probe] = await embed(['engram dimension probe'])
  const measured = probe?.length
  if (!measured || !Number.isInteger(measured)) {
    throw new StorageError('INVALID_ARGUMENT', 'The embedder did not return a vector for a probe text')
  }
  if (expected !== undefined && expected !== measured) {
    throw new StorageError(
      'DIMENSION_MISMATCH',
      `dimensions is ${expected} but the embedder returns ${measured}-dimension vectors`,
    )
  }
  return measured
}

/** The SQLite file a memory opens: `path`, else `$ENGRAM_DATA_DIR/memory.db`, else `./.engram/memory.db`. */
export function storagePath(path: unknown): string {
  if (path !== undefined) {
    if (typeof path !== 'string' || path.length === 0) {
      throw new StorageError('INVALID_ARGUMENT', `path must be a file path; got ${describeValue(path)}`)
    }
    return path
  }
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
  return `${(env?.ENGRAM_DATA_DIR ?? '.engram').replace(/[\\/]+$/, '')}/memory.db`
}

/** Checks that `vectors` (given, or made by a factory) is a `VectorStore`. */
export function checkVectorStore(vectors: unknown): VectorStore {
  const store = vectors as VectorStore | undefined
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.upsert !== 'function' ||
    typeof store.query !== 'function'
  ) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `vectors must be a VectorStore, or a function (adapter) => VectorStore for a store in the same database; got ${describeValue(vectors)}`,
    )
  }
  return store
}

/** Reads `batchSize` (an integer of at least 1, default `fallback`) and `onProgress` (a function) from checked options. */
export function batchOptions(
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void },
  fallback: number,
): { batchSize: number; onProgress: ((done: number, total: number) => void) | undefined } {
  const { onProgress } = options
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'onProgress must be a function (done, total) => void')
  }
  return { batchSize: integerOption(options.batchSize, fallback, 'batchSize'), onProgress }
}
