import { describeVectorStore } from '@engram/conformance'
import { createSqlJsAdapter, type SqlJsAdapter } from '@engram/sqljs'
import { createSqliteVectorStore } from '../src/index.js'

// The store never closes the adapter it is given, so the suite's cleanup hook closes them.
const adapters: SqlJsAdapter[] = []
describeVectorStore(
  'sqlite-vector on sqljs (exact, FTS4)',
  async () => {
    const adapter = await createSqlJsAdapter()
    adapters.push(adapter)
    return createSqliteVectorStore({ adapter })
  },
  {
    cleanup: async () => {
      for (const adapter of adapters.splice(0)) await adapter.close()
    },
  },
)
