export { buildHnswIndex, type HnswBuildOptions, type HnswBuildPlan } from './build-hnsw-index.js'
export { createHnswIndex, type HnswIndex, type HnswIndexConfig, removeHnswIndex } from './hnsw-index.js'
