// The scale path's tiers by name, apart from their code so the runner can check `--tiers`
// without loading any driver.

/** The tiers of the scale path. */
export type ScaleTier = 'sqlite-exact' | 'sqlite-hnsw' | 'pgvector'

/** Every tier, in table order. */
export const SCALE_TIERS: readonly ScaleTier[] = ['sqlite-exact', 'sqlite-hnsw', 'pgvector']

/** How each tier is configured: the stores' defaults, except pgvector's build memory (see the suite's notes). */
export const TIER_LABELS: Readonly<Record<ScaleTier, string>> = {
  'sqlite-exact': 'engram sqlite-vector, exact (sqlite-native, no sidecar, defaults: 64 MiB exact cache)',
  'sqlite-hnsw':
    'engram sqlite-vector + hnsw sidecar (defaults: m 16, efConstruction 128, efSearch 64, exactBelow 1,000)',
  pgvector:
    'engram PgVectorStore (defaults: m 16, efConstruction 128, efSearch 64; buildIndex after ingest, indexBuildMemory 2GB)',
}
