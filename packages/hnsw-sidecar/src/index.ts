export { createHnswIndex, type HnswIndex, type HnswIndexConfig, removeHnswIndex } from './hnsw-index.js'
