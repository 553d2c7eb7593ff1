import { describeVectorStore } from '../src/describe-vector-store.js'
import { createReferenceVectorStore } from '../src/reference-vector-store.js'

describeVectorStore('reference', async () => createReferenceVectorStore())

// Proves the suite's capability-driven paths: UNSUPPORTED operators and metrics, and no text search.
describeVectorStore(
  'reference (limited capabilities)',
  async () =>
    createReferenceVectorStore({ hybrid: false, operators: ['$eq', '$in', '$and'], metrics: ['cosine'] }),
  { groups: { records: false } },
)

describeVectorStore(
  'reference ordering numbers only',
  async () => createReferenceVectorStore({ stringRanges: false }),
  {
    groups: {
      lifecycle: false,
      records: false,
      scoring: false,
      hybrid: false,
      edgeCases: false,
      inputRules: false,
    },
  },
)
