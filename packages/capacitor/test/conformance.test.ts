import { existsSync } from 'node:fs'
import { describeStorageAdapter, describeVectorStore } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { device } from './helpers.js'

// One device for the suites: each test opens its own database name on it.
const phone = device()
let counter = 0

describeStorageAdapter('capacitor (plugin double, Android bridge)', () => phone.open(`suite-${++counter}`), {
  // No JSON bridge can read an integer beyond 2^53 back exactly; the suite still checks it is stored exactly.
  exactLargeIntegers: false,
  // Each page is one bridge call and OFFSET re-reads the rows before it; 50,000 rows still prove
  // the memory bound (a page is 1,000 rows) without a quadratic wait on two shared cores.
  streamRows: 50_000,
  persistence: {
    newLocation: () => `kept-${++counter}`,
    open: (location) => phone.open(location),
    exists: (location) => existsSync(phone.plugin.path(location)),
  },
})

// The store never closes the adapter it is given, so the suite's cleanup hook closes them.
const vectorAdapters: StorageAdapter[] = []
describeVectorStore(
  'sqlite-vector on capacitor (plugin double)',
  async () => {
    const adapter = await phone.open(`vectors-${++counter}`)
    vectorAdapters.push(adapter)
    return createSqliteVectorStore({ adapter })
  },
  {
    cleanup: async () => {
      for (const adapter of vectorAdapters.splice(0)) await adapter.close()
    },
  },
)
