export {
  compilePineconeFilter,
  PineconeFilterError,
  type PineconeMetadata,
  type PineconeMetadataValue,
  type PineconePredicate,
} from './pinecone-test-filter.js'
export {
  PINECONE_LIMITS,
  PineconeApiError,
  type PineconeMetric,
  PineconeTestIndex,
  type PineconeTestIndexSpec,
} from './pinecone-test-index.js'
export {
  PINECONE_API_VERSION,
  PINECONE_MAX_REQUEST_BYTES,
  type PineconeFault,
  type PineconeLoggedRequest,
  type PineconeOperation,
  type PineconeTestServer,
  type PineconeTestServerOptions,
  startPineconeTestServer,
} from './pinecone-test-server.js'
