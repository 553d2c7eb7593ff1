/**
 * Names `@engram/memory` exported before the SQLite vector engine moved to
 * `@engram/sqlite-vector`. They keep working for one release and are removed in the next minor
 * release; each says what to use instead.
 */

import type {
  AnnIndexFactory as CoreAnnIndexFactory,
  AnnIndexOptions as CoreAnnIndexOptions,
  CheckpointedAnnIndex as CoreCheckpointedAnnIndex,
  FilterNode,
  SqlValue,
  StorageAdapter,
} from '@engram/core'
import { booleanOption } from '@engram/core'
import * as engine from '@engram/sqlite-vector'

/** @deprecated Use `SqliteVectorStoreConfig['ann']` from `@engram/sqlite-vector` (`M` is now `m`). */
export interface SqlVectorStoreAnnConfig {
  /** The database file the adapter has open, or `':memory:'`. */
  path: string
  /** HNSW links per node; now `ann.m`. Default is `16`. */
  M?: number
  /** HNSW candidate list size while building. Default is `128`. */
  efConstruction?: number
  /** HNSW candidate list size while searching (at least `topK`). Default is `64`. */
  efSearch?: number
  /** Changes applied to an index that trigger writing it to disk. Default is `10_000`. */
  persistEvery?: number
  /** Opens an index (it now receives `m`, not `M`). Default is `createHnswIndex` from `@engram/hnsw-sidecar`. */
  createIndex?: CoreAnnIndexFactory
  /** Deletes an index's files. Default is `removeHnswIndex` from `@engram/hnsw-sidecar`. */
  removeIndex?: (path: string) => Promise<void>
}

/** @deprecated Use `SqliteVectorStoreConfig` from `@engram/sqlite-vector`. */
export interface SqlVectorStoreConfig {
  /** Turns on the ANN tier. */
  ann?: SqlVectorStoreAnnConfig
  /** Now `exactBelow`. Default is `1000`. */
  annThreshold?: number
  /** Close the adapter when the store is closed; the new store never does, so close it yourself. Default is `false`. */
  closeAdapter?: boolean
  /** Records before very common words are left out of text search. Default is `10000`. */
  termPruningThreshold?: number
  /** The share of records that makes a word very common. Default is `0.3`. */
  commonTermFraction?: number
  /** Bytes of decoded vectors kept in memory for exact search. Default is 64 MiB. */
  exactCacheBytes?: number
}

/** @deprecated Use `SqliteVectorStore` from `@engram/sqlite-vector`. */
export type SqlVectorStore = engine.SqliteVectorStore

/**
 * @deprecated Use `createSqliteVectorStore({ adapter, exactBelow, ann: { path, m } })` from
 * `@engram/sqlite-vector`, and close the adapter yourself after the store.
 */
export function createSqlVectorStore(
  adapter: StorageAdapter,
  config: SqlVectorStoreConfig = {},
): SqlVectorStore {
  const { ann, annThreshold, closeAdapter, ...rest } = config
  const options: engine.SqliteVectorStoreConfig = { adapter, ...rest }
  if (annThreshold !== undefined) options.exactBelow = annThreshold
  if (ann !== undefined) {
    const { M, ...hnsw } = ann
    options.ann = M === undefined ? hnsw : { ...hnsw, m: M }
  }
  const store = engine.createSqliteVectorStore(options)
  if (!booleanOption(closeAdapter, false, 'closeAdapter')) return store
  const closeStore = store.close.bind(store)
  let closing: Promise<void> | undefined
  // The old store closed the adapter after its own indexes; the new one leaves that to its caller.
  store.close = () => {
    closing ??= closeStore().finally(() => adapter.close())
    return closing
  }
  return store
}

/** @deprecated The SQL and parameters `translateSqliteFilter` returns; build them with `sqliteFilter`'s `bind`. */
export interface SqlFragment {
  /** The expression. */
  sql: string
  /** Values for its `?` placeholders, in order. */
  params: SqlValue[]
}

/** @deprecated Use `sqliteFilter(node, { column, bind })` from `@engram/sqlite-vector`. */
export function translateSqliteFilter(node: FilterNode, column = 'metadata'): SqlFragment {
  const params: SqlValue[] = []
  const sql = engine.sqliteFilter(node, {
    column,
    bind(value) {
      params.push(value)
      return '?'
    },
  })
  return { sql, params }
}

/** @deprecated Import `ftsMatchQuery` from `@engram/sqlite-vector`. */
export const ftsMatchQuery: typeof engine.ftsMatchQuery = engine.ftsMatchQuery
/** @deprecated Import `fts4Rank` from `@engram/sqlite-vector`. */
export const fts4Rank: typeof engine.fts4Rank = engine.fts4Rank
/** @deprecated Import `createExactScorer` from `@engram/sqlite-vector`. */
export const createExactScorer: typeof engine.createExactScorer = engine.createExactScorer
/** @deprecated Import `AnnStatus` from `@engram/sqlite-vector`. */
export type AnnStatus = engine.AnnStatus
/** @deprecated Import `AnnIndexFactory` from `@engram/core`. */
export type AnnIndexFactory = CoreAnnIndexFactory
/** @deprecated Import `AnnIndexOptions` from `@engram/core` (`M` is now `m`). */
export type AnnIndexOptions = CoreAnnIndexOptions
/** @deprecated Import `CheckpointedAnnIndex` from `@engram/core`. */
export type CheckpointedAnnIndex = CoreCheckpointedAnnIndex
