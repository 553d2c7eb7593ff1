import {
  type AnnIndexFactory,
  type AnnIndexOptions,
  booleanOption,
  type CheckpointedAnnIndex,
  HNSW_DEFAULTS,
  type HnswSettings,
  installCommand,
  integerOption,
  type StorageAdapter,
  StorageError,
} from '@engram/core'

/** What a background build applies, once the builder knows the checkpoint of the index file it may start from. */
export interface AnnBuildPlan {
  /** Start from the index file (whose checkpoint was offered) instead of an empty index. */
  extend: boolean
  /** The vectors to add or replace, in batches. */
  items: AsyncIterable<ReadonlyArray<{ label: number; vector: Float32Array }>>
  /** Labels to remove once every batch is in. */
  removed?: () => Promise<readonly number[]>
  /** The checkpoint the finished index is written with. */
  checkpoint?: string
}

/**
 * Builds an index away from the queries: `buildHnswIndex` from `@engram/hnsw-sidecar` (a worker
 * thread) or any function of this shape. `plan` is called with the checkpoint of the usable
 * index file (or `undefined`); the returned index is ready to search and already persisted.
 */
export type AnnIndexBuilder = (
  options: AnnIndexOptions,
  plan: (checkpoint: string | undefined) => Promise<AnnBuildPlan>,
  settings: { signal: AbortSignal },
) => Promise<CheckpointedAnnIndex>

/** Settings for the ANN tier: one HNSW index per collection, in files beside the database. */
export interface SqliteVectorAnnConfig extends HnswSettings {
  /**
   * The database file the adapter has open; each collection's index is `<path>.<collection>.hnsw`
   * (plus `.json` for its checkpoint), so two databases in one folder never share an index. When
   * that name would be too long for the file system, a hash of both names shortens it.
   * `':memory:'` keeps indexes in memory, as does an adapter whose persistence is `'memory'`.
   */
  path: string
  /** Changes applied to an index that trigger writing it to disk; `close()` always does. Default is `10_000`. */
  persistEvery?: number
  /**
   * An index that must take in more than this many records before it can answer (a first
   * build, or a catch-up after a large ingest) is built in the background, off the main thread,
   * while exact search answers; no query waits for it. Fewer are applied within the query that
   * needs them. Writes start such a build as soon as they bring a collection to `exactBelow`.
   * Default is `500`.
   */
  backgroundAbove?: number
  /**
   * Whether this store's writes start the background build or catch-up they make due. Default is
   * `true`. A store that writes only inside transactions it is lent (a memory's vector writers)
   * turns it off: a build it started would read through a transaction that is gone, or not yet
   * committed. The store that answers queries then starts it with `prepareIndex`.
   */
  buildAfterWrites?: boolean
  /** Opens an index. Default is `createHnswIndex` from `@engram/hnsw-sidecar`. */
  createIndex?: AnnIndexFactory
  /** Deletes an index's files. Default is `removeHnswIndex` from `@engram/hnsw-sidecar`. */
  removeIndex?: (path: string) => Promise<void>
  /**
   * Builds an index in the background. Default is `buildHnswIndex` from `@engram/hnsw-sidecar`
   * (a worker thread); with a custom `createIndex` and no `buildIndex`, the index is built on
   * the main thread, a batch at a time between other work.
   */
  buildIndex?: AnnIndexBuilder
}

/** The ANN tier's settings, defaults filled in. */
export interface AnnTierConfig extends Required<HnswSettings> {
  /** The database file the index files are named after, or `undefined` for in-memory indexes. */
  databasePath: string | undefined
  /** Opens an index. */
  createIndex: AnnIndexFactory
  /** Deletes an index file and its checkpoint. */
  removeIndex: (path: string) => Promise<void>
  /** Builds an index in the background. */
  buildIndex: AnnIndexBuilder
  /** Changes applied since the last checkpoint that trigger a new one. */
  persistEvery: number
  /** Records to take in past which an index is built in the background. */
  backgroundAbove: number
  /** Whether writes start the background work they make due. */
  buildAfterWrites: boolean
}

/** The settings `checkAnnConfig` returns: the index functions stay open until the sidecar is loaded. */
export type CheckedAnnConfig = Omit<AnnTierConfig, 'createIndex' | 'removeIndex' | 'buildIndex'> &
  Partial<Pick<AnnTierConfig, 'createIndex' | 'removeIndex' | 'buildIndex'>>

/**
 * Checks the `ann` option when the store is created, so a mistake fails at once rather than on
 * the first search past `exactBelow`. Returns the settings with every default but the index
 * functions filled in (those come from the sidecar, which is only loaded when it is needed).
 */
export function checkAnnConfig(ann: SqliteVectorAnnConfig, db: StorageAdapter): CheckedAnnConfig {
  if (typeof ann !== 'object' || ann === null || typeof ann.path !== 'string' || ann.path === '') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      "ann.path must be the database file the adapter opened, or ':memory:'",
    )
  }
  for (const name of ['createIndex', 'removeIndex', 'buildIndex'] as const) {
    if (ann[name] !== undefined && typeof ann[name] !== 'function') {
      throw new StorageError('INVALID_ARGUMENT', `ann.${name} must be a function`)
    }
  }
  const inMemory = ann.path === ':memory:' || db.capabilities.persistence === 'memory'
  const config: CheckedAnnConfig = {
    databasePath: inMemory ? undefined : ann.path,
    persistEvery: integerOption(ann.persistEvery, 10_000, 'ann.persistEvery'),
    backgroundAbove: integerOption(ann.backgroundAbove, 500, 'ann.backgroundAbove', 0),
    buildAfterWrites: booleanOption(ann.buildAfterWrites, true, 'ann.buildAfterWrites'),
    m: integerOption(ann.m, HNSW_DEFAULTS.m, 'ann.m', 2),
    efConstruction: integerOption(ann.efConstruction, HNSW_DEFAULTS.efConstruction, 'ann.efConstruction'),
    efSearch: integerOption(ann.efSearch, HNSW_DEFAULTS.efSearch, 'ann.efSearch'),
  }
  if (ann.createIndex) config.createIndex = ann.createIndex
  if (ann.removeIndex) config.removeIndex = ann.removeIndex
  if (ann.buildIndex) config.buildIndex = ann.buildIndex
  return config
}

/** Fills in the index functions, loading `@engram/hnsw-sidecar` for whichever was not given. */
export async function resolveAnnConfig(config: CheckedAnnConfig): Promise<AnnTierConfig> {
  let { createIndex, removeIndex, buildIndex } = config
  const custom = createIndex !== undefined
  if (!createIndex || !removeIndex || (!buildIndex && !custom)) {
    const sidecar = await loadSidecar()
    createIndex ??= sidecar.createHnswIndex
    removeIndex ??= sidecar.removeHnswIndex
    if (!custom) buildIndex ??= sidecar.buildHnswIndex
  }
  return {
    ...config,
    createIndex,
    removeIndex,
    buildIndex: buildIndex ?? mainThreadBuilder(createIndex, removeIndex),
  }
}

/**
 * A builder for an index that only has `createIndex`: the same plan, applied on the main thread
 * a batch at a time, yielding to the event loop between batches so queries keep being answered.
 */
export function mainThreadBuilder(
  createIndex: AnnIndexFactory,
  removeIndex: (path: string) => Promise<void>,
): AnnIndexBuilder {
  return async (options, makePlan, { signal }) => {
    let index = await createIndex(options)
    try {
      const plan = await makePlan(index.checkpoint)
      if (!plan.extend && (index.size() > 0 || index.checkpoint !== undefined)) {
        await index.close()
        if (options.path !== undefined) await removeIndex(options.path)
        index = await createIndex(options)
      }
      for await (const batch of plan.items) {
        signal.throwIfAborted()
        await index.add(batch)
        await new Promise((resolve) => setTimeout(resolve, 0))
      }
      const removed = (await plan.removed?.()) ?? []
      if (removed.length > 0) await index.remove(removed)
      signal.throwIfAborted()
      await index.persist(plan.checkpoint)
      return index
    } catch (error) {
      await index.close()
      throw error
    }
  }
}

interface SidecarModule {
  createHnswIndex: AnnIndexFactory
  removeHnswIndex: (path: string) => Promise<void>
  buildHnswIndex: AnnIndexBuilder
}

async function loadSidecar(): Promise<SidecarModule> {
  try {
    return (await import(/* @vite-ignore */ '@engram/hnsw-sidecar')) as SidecarModule
  } catch (error) {
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      `The ANN tier needs @engram/hnsw-sidecar: run "${installCommand('@engram/hnsw-sidecar')}", or leave out the ann option`,
      { cause: error },
    )
  }
}
