export { AGENT_STATE_TABLE, AgentState, type SavedState } from './agent-state.js'
export type { AnnIndexFactory, AnnIndexOptions, AnnStatus, CheckpointedAnnIndex } from './ann-tier.js'
export { type ChunkOptions, chunkText, type TextChunk } from './chunk-text.js'
export {
  ConversationMemory,
  type ConversationMemoryConfig,
  type ImportCounts,
  type ImportedConversation,
  type ImportedTurn,
} from './conversation-memory.js'
export { CONVERSATION_SCHEMA, CONVERSATIONS_TABLE, TURNS_TABLE } from './conversation-schema.js'
export type { Embedder } from './embedder.js'
export { createExactScorer } from './exact-scorer.js'
export { ftsMatchQuery } from './fts-match-query.js'
export { fts4Rank } from './fts4-rank.js'
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
export { createLocalEmbedder, type LocalEmbedderConfig } from './local-embedder.js'
export {
  DOCUMENTS_TABLE,
  type IngestInput,
  type IngestOptions,
  type IngestResult,
  Memory,
  type MemoryOptions,
  type RecallOptions,
  type Recollection,
  type RememberOptions,
  TRACES_TABLE,
  type Trace,
  type TraceType,
} from './memory.js'
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
  TURN_ROLES,
  type TurnRole,
} from './memory-adapter.js'
export {
  MIGRATIONS_TABLE,
  type Migration,
  type MigrationReport,
  migrateSchema,
  type SchemaDefinition,
} from './migrate-schema.js'
export { createOpenAIEmbedder, type OpenAIEmbedderConfig } from './openai-embedder.js'
export {
  createSqlVectorStore,
  type SqlVectorStore,
  type SqlVectorStoreAnnConfig,
  type SqlVectorStoreConfig,
} from './sql-vector-store.js'
export { type SqlFragment, translateSqliteFilter } from './sqlite-filter.js'
