/** The checks and defaults behind `Memory.open` and the batch options of `rememberMany` and `ingest`. */
import {
  createDatabase,
  installCommand,
  integerOption,
  isStorageError,
  type StorageAdapter,
  StorageError,
  type VectorStore,
} from '@engram/core'
import type { Embedder } from './embedder.js'
import { describeValue, isPlainObject } from './memory-input.js'
import type { MemoryOptions } from './memory-options.js'
import { openStorage } from './open-storage.js'

/**
 * The structured store `Memory.open` uses: the `storage` option (opened here when it is a URL or
 * options), or the SQLite file at `path`. `owned` is whether it was opened here; `file` is the
 * SQLite file the options name, where the HNSW index is kept beside it: `path` (which, next to
 * `storage`, names its file), a plain file path, or options with a `filename`.
 */
export async function memoryStorage(
  options: Pick<MemoryOptions, 'path' | 'storage'>,
): Promise<{ storage: StorageAdapter; owned: boolean; file: string | undefined }> {
  if (Object.hasOwn(options, 'storage')) {
    const target = options.storage
    const named =
      typeof target === 'string'
        ? /^(file:|[a-z][a-z0-9+.-]*:\/\/)/i.test(target)
          ? undefined
          : target
        : isPlainObject(target) && typeof target.filename === 'string'
          ? target.filename
          : undefined
    const file = options.path === undefined ? named : storagePath(options.path)
    return { ...(await openStorage(target, 'storage')), file }
  }
  const path = storagePath(options.path)
  try {
    return { storage: await createDatabase({ filename: path }), owned: true, file: path }
  } catch (error) {
    if (!isStorageError(error, 'DRIVER_NOT_INSTALLED')) throw error
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      `Memory.open() keeps its memories in a SQLite file (${path}) and needs a SQLite driver: add one with "${installCommand('@engram/sqlite-native')}" (or @engram/sqljs, which needs no native build), or pass storage. ${(error as Error).message}`,
      { cause: error },
    )
  }
}

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

/** Embeds `texts`, checking that the embedder returned one vector of the measured dimension for each. */
export async function embedChecked(
  embed: Embedder,
  texts: string[],
  dimensions: number,
): Promise<Float32Array[]> {
  const vectors = await embed(texts)
  if (!Array.isArray(vectors) || vectors.length !== texts.length) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `The embedder returned ${vectors?.length} vectors for ${texts.length} texts`,
    )
  }
  for (const v of vectors) {
    if (v?.length !== dimensions) {
      throw new StorageError(
        'DIMENSION_MISMATCH',
        `The embedder returned a ${v?.length}-dimension vector; it measured ${dimensions} when the memory opened`,
      )
    }
  }
  return vectors
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
