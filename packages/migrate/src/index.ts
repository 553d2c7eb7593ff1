export {
  type CheckParityOptions,
  checkParity,
  type Mismatch,
  type ParityReport,
  type TableParity,
} from './check-parity.js'
export { type ColumnKind, columnKind, translateType } from './column-type.js'
export {
  createDualAdapter,
  type Discrepancy,
  type DualAdapter,
  type DualAdapterConfig,
  type DualAdapterStats,
} from './dual-adapter.js'
export { type ExportOptions, exportDatabase } from './export-database.js'
export {
  type CheckSchema,
  type ColumnSchema,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportHeader,
  type ExportTrailer,
  type ForeignKeySchema,
  type IndexColumn,
  type IndexSchema,
  type TableEnd,
  type TableSchema,
  type TableStart,
} from './export-format.js'
export { type ImportOptions, type ImportResult, importDatabase } from './import-database.js'
export {
  type ItemReport,
  type MigrateOptions,
  MigrationEngine,
  type MigrationResult,
  migrate,
  type ProgressDetail,
} from './migrate.js'
export type {
  MigrationEndpoint,
  SeedDatabaseOptions,
  SqlEndpoint,
  VectorStoreOpener,
} from './open-endpoint.js'
export type { ChunkSource } from './read-lines.js'
export {
  CHECKPOINT_TABLE,
  type DatabaseSchema,
  isInternalTable,
  type ReadSchemaOptions,
  readSchema,
} from './read-schema.js'
export { TableChecksum } from './table-checksum.js'
export type { ColumnTypes } from './table-ddl.js'
export type { ConflictPolicy } from './table-writer.js'
export { decodeValue, type EncodedValue, encodeValue } from './value-codec.js'
export { type VerifyOptions, type VerifyResult, verifyMigration } from './verify-migration.js'
