import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStorageAdapter, describeVectorStore } from '@engram/conformance'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll } from 'vitest'
import { createSqlJsAdapter, type SqlJsAdapter } from '../src/index.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqljs-conformance-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0

describeStorageAdapter('sqljs (in memory)', () => createSqlJsAdapter(), {
  persistence: {
    newLocation: () => join(folder, `db-${++counter}.sqlite`),
    open: (location) => createSqlJsAdapter({ filename: location }),
    exists: (location) => existsSync(location),
    memoryLocation: ':memory:',
  },
})

describeStorageAdapter(
  'sqljs (file, saved after every commit)',
  () => createSqlJsAdapter({ filename: join(folder, `suite-${++counter}.sqlite`) }),
  { groups: { streaming: false, persistence: false } },
)

// The store never closes the adapter it is given, so the suite's cleanup hook closes them.
const vectorAdapters: SqlJsAdapter[] = []
describeVectorStore(
  'sqlite-vector on sqljs (exact, FTS4)',
  async () => {
    const adapter = await createSqlJsAdapter()
    vectorAdapters.push(adapter)
    return createSqliteVectorStore({ adapter })
  },
  {
    cleanup: async () => {
      for (const adapter of vectorAdapters.splice(0)) await adapter.close()
    },
  },
)
