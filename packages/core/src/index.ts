export {
  type AnnHit,
  type AnnIndex,
  type AnnIndexFactory,
  type AnnIndexOptions,
  type CheckpointedAnnIndex,
  HNSW_DEFAULTS,
  type HnswSettings,
} from './ann-index.js'
export { booleanOption } from './boolean-option.js'
export { bindParams, type CompiledSql, compileSql, MAX_PARAMETERS } from './compile-sql.js'
export {
  type ConnectionAdapterConfig,
  createConnectionAdapter,
  runExclusive,
} from './connection-adapter.js'
export {
  AUTO_DRIVERS,
  type AutoDatabaseOptions,
  type CommonDatabaseOptions,
  createDatabase,
  type DatabaseOptions,
  type DriverChoice,
  type DriverDatabaseOptions,
  type DriverDefinition,
  type DriverOptions,
  detectRuntime,
  type EngramRuntime,
  registerDriver,
} from './create-database.js'
export { fromDriverInteger, normalizeRow, toDriverValue } from './driver-value.js'
export {
  type CompareOperator,
  FILTER_OPERATORS,
  type FieldCondition,
  type Filter,
  type FilterNode,
  type FilterScalar,
  isSafeFieldName,
  MAX_FILTER_CONDITIONS,
  MAX_FILTER_DEPTH,
  MAX_FILTER_VALUES,
  type ValidateFilterOptions,
  validateFilter,
} from './filter.js'
export { installCommand } from './install-command.js'
export { integerOption } from './integer-option.js'
export { compareCodePoints, matchesFilter } from './matches-filter.js'
export { Mutex } from './mutex.js'
export { pruneCommonTerms } from './prune-common-terms.js'
export { type FusedResult, type RrfOptions, reciprocalRankFusion } from './rrf.js'
export type {
  AsyncContext,
  MaybePromise,
  SqlConnection,
  SqlConnectionPool,
} from './sql-connection.js'
export { sqliteErrorCode } from './sqlite-error-code.js'
export type {
  Row,
  RunResult,
  SqlDialect,
  SqlParams,
  SqlValue,
  StorageAdapter,
  StorageCapabilities,
} from './storage-adapter.js'
export {
  invalidArgument,
  isStorageError,
  StorageError,
  type StorageErrorCode,
  type StorageErrorDetails,
} from './storage-error.js'
export { bytesToVector, dot, norm, similarity, vectorToBytes } from './vector-math.js'
export type {
  CollectionInfo,
  CollectionSpec,
  DeleteTarget,
  Metadata,
  MetadataValue,
  VectorCapabilities,
  VectorMatch,
  VectorMetric,
  VectorQuery,
  VectorRecord,
  VectorStore,
} from './vector-store.js'
export {
  type CollectionUse,
  DEFAULT_MAX_TOP_K,
  type StoreDeleteTarget,
  type StoredCollection,
  type StoreQuery,
  type StoreScanOptions,
  VectorStoreBase,
} from './vector-store-base.js'
export {
  collectionNotFound,
  MAX_ID_LENGTH,
  MAX_SCAN_BATCH,
  MAX_TENANT_LENGTH,
  specMismatch,
  toVector,
  type ValidQuery,
  type ValidRecord,
  validateCollectionName,
  validateCollectionSpec,
  validateDeleteTarget,
  validateId,
  validateIds,
  validateMetadata,
  validateQuery,
  validateRecords,
  validateScanOptions,
  validateTenant,
} from './vector-validation.js'
export { checkWellFormed, isWellFormed } from './well-formed.js'
