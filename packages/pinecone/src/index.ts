export {
  type PineconeFilter,
  type PineconeFilterOptions,
  pineconeFilter,
  type TranslatedFilter,
} from './pinecone-filter.js'
export { createPineconeVectorStore, type PineconeVectorStoreConfig } from './pinecone-vector-store.js'
