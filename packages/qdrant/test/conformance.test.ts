import { describeVectorStore } from '@engram/conformance'
import { afterAll, beforeAll } from 'vitest'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

// The same suite, through the real @qdrant/js-client-rest client, against engram's Qdrant test
// server by default and against a real Qdrant when QDRANT_URL (and QDRANT_API_KEY) is set.
let target: QdrantTarget
let prefix = ''

beforeAll(async () => {
  target = await startTarget()
  prefix = target.prefix()
})

afterAll(async () => {
  await target.stop()
})

describeVectorStore(
  process.env.QDRANT_URL ? `qdrant (${process.env.QDRANT_URL})` : 'qdrant (test server)',
  async () => target.open({ collectionPrefix: prefix }),
)
