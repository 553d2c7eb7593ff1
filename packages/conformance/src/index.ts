export {
  describeStorageAdapter,
  type PersistenceHooks,
  type StorageSuiteGroup,
  type StorageSuiteOptions,
} from './describe-storage-adapter.js'
export { type DialectSql, dialectSql, expectStorageError, uniqueName } from './storage-fixtures.js'
