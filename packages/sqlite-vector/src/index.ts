export type { AnnBuildPlan, AnnIndexBuilder, SqliteVectorAnnConfig } from './ann-config.js'
export type { AnnStatus } from './ann-tier.js'
export { createExactScorer } from './exact-scorer.js'
export { ftsMatchQuery } from './fts-match-query.js'
export { fts4Rank } from './fts4-rank.js'
export { type SqliteFilterOptions, sqliteFilter } from './sqlite-filter.js'
export {
  createSqliteVectorStore,
  type SqliteVectorStore,
  type SqliteVectorStoreConfig,
} from './sqlite-vector-store.js'
