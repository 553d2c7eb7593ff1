export {
  describeStorageAdapter,
  type PersistenceHooks,
  type StorageSuiteGroup,
  type StorageSuiteOptions,
} from './describe-storage-adapter.js'
export {
  describeVectorStore,
  type VectorSuiteGroup,
  type VectorSuiteOptions,
} from './describe-vector-store.js'
export { createReferenceVectorStore, type ReferenceVectorStoreConfig } from './reference-vector-store.js'
export { type DialectSql, dialectSql, expectStorageError, uniqueName } from './storage-fixtures.js'
export { randomVectors, seededRandom } from './vector-fixtures.js'
