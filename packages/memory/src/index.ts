export { AGENT_STATE_TABLE, AgentState, type SavedState } from './agent-state.js'
export { type ChunkOptions, chunkText, type TextChunk } from './chunk-text.js'
export type { ImportCounts, ImportedConversation, ImportedTurn } from './conversation-import.js'
export { ConversationMemory, type ConversationMemoryConfig } from './conversation-memory.js'
export { CONVERSATION_SCHEMA, CONVERSATIONS_TABLE, TURNS_TABLE } from './conversation-schema.js'
export type { Embedder } from './embedder.js'
export {
  importLegacySqliteMemory,
  type LegacyImportOptions,
  type LegacyImportReport,
} from './import-legacy-sqlite-memory.js'
export {
  ENTITIES_TABLE,
  type Entity,
  KnowledgeGraph,
  type Neighbor,
  type NeighborOptions,
  RELATIONS_TABLE,
  type Relation,
} from './knowledge-graph.js'
export { type LegacyMemoryAdapter, toLegacyMemoryAdapter } from './legacy-memory-adapter.js'
export type {
  LegacyConversationSummary,
  LegacyConversationTurn,
  LegacyPruneCriteria,
  LegacyPruneResult,
  LegacyRetrievalOptions,
  LegacyTokenUsage,
  LegacyTurnInput,
} from './legacy-memory-types.js'
export { createLocalEmbedder, type LocalEmbedderConfig } from './local-embedder.js'
export { Memory } from './memory.js'
export {
  type Conversation,
  type ConversationTurn,
  type ConversationUpdate,
  type IMemoryAdapter,
  type ListConversationsOptions,
  type PruneHistoryOptions,
  type RetrieveTurnsOptions,
  type StoredConversationTurn,
  type TimeInput,
  type TokenUsage,
  type TokenUsageInput,
  TURN_ROLES,
  type TurnRole,
} from './memory-adapter.js'
export type {
  IngestInput,
  IngestOptions,
  IngestResult,
  MemoryOptions,
  RecallOptions,
  Recollection,
  RememberOptions,
} from './memory-options.js'
export { DOCUMENTS_TABLE, MEMORY_SCHEMA, TRACES_TABLE, VECTOR_OUTBOX_TABLE } from './memory-schema.js'
export type { MemoryWarning, MemoryWarningHandler, MemoryWarningKind } from './memory-warning.js'
export {
  MIGRATIONS_TABLE,
  type Migration,
  type MigrationReport,
  migrateSchema,
  type SchemaDefinition,
} from './migrate-schema.js'
export type { StorageTarget } from './open-storage.js'
export { createOpenAIEmbedder, type OpenAIEmbedderConfig } from './openai-embedder.js'
export type { VectorStoreFactory, VectorStoreRole } from './same-database-vectors.js'
export {
  type AnnIndexFactory,
  type AnnIndexOptions,
  type AnnStatus,
  type CheckpointedAnnIndex,
  createExactScorer,
  createSqlVectorStore,
  fts4Rank,
  ftsMatchQuery,
  type SqlFragment,
  type SqlVectorStore,
  type SqlVectorStoreAnnConfig,
  type SqlVectorStoreConfig,
  translateSqliteFilter,
} from './sql-vector-store.js'
export type { Trace, TraceType } from './trace.js'
