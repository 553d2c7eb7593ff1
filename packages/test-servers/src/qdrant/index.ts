export {
  type InjectedFault,
  type QdrantTestServer,
  type QdrantTestServerOptions,
  type RecordedRequest,
  startQdrantTestServer,
} from './qdrant-test-server.js'
