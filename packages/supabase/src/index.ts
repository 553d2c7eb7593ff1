export { driver } from './driver.js'
export type { MigrationSchemas } from './migration-names.js'
export { type PostgrestErrorLike, type RpcContext, storageErrorFromPostgrest } from './postgrest-error.js'
export {
  createSupabaseAdapter,
  type SupabaseAdapter,
  type SupabaseAdapterConfig,
} from './supabase-adapter.js'
export { createSupabaseClient, type SupabaseClientOptions } from './supabase-client.js'
export { type CertificateAuthority, detectPooler, type SupabasePooler } from './supabase-connection.js'
export {
  applySupabaseMigration,
  SUPABASE_MIGRATION_SQL,
  SUPABASE_MIGRATION_VERSION,
  type SupabaseMigrationResult,
  supabaseMigrationSql,
} from './supabase-migration.js'
export type { RpcResponse, SupabaseRpcClient } from './supabase-rpc.js'
export {
  createSupabaseVectorStore,
  type SupabaseVectorStore,
  type SupabaseVectorStoreConfig,
} from './supabase-vector-store.js'
