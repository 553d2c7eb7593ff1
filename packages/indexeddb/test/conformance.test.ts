import { describeStorageAdapter, describeVectorStore } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { IDBFactory } from 'fake-indexeddb'
import { createIndexedDbAdapter, LocalLockManager } from '../src/index.js'

// One fake browser profile for the whole file: databases with distinct names never meet.
const indexedDB = new IDBFactory()
const locks = new LocalLockManager()
let counter = 0
const open = (name: string, durability: 'commit' | 'relaxed' = 'commit') =>
  createIndexedDbAdapter({ name, indexedDB, locks, durability })

describeStorageAdapter('indexeddb (commit durability, fake-indexeddb)', () => open(`suite-${++counter}`), {
  persistence: {
    newLocation: () => `persist-${++counter}`,
    open: (name) => open(name),
  },
})

describeStorageAdapter(
  'indexeddb (relaxed durability, fake-indexeddb)',
  () => open(`relaxed-${++counter}`, 'relaxed'),
  {
    groups: { streaming: false },
    persistence: {
      newLocation: () => `relaxed-persist-${++counter}`,
      open: (name) => open(name, 'relaxed'),
    },
  },
)

// The store never closes the adapter it is given, so the suite's cleanup hook closes them.
const vectorAdapters: StorageAdapter[] = []
describeVectorStore(
  'sqlite-vector on indexeddb (exact, FTS4)',
  async () => {
    const adapter = await open(`vectors-${++counter}`)
    vectorAdapters.push(adapter)
    return createSqliteVectorStore({ adapter })
  },
  {
    cleanup: async () => {
      for (const adapter of vectorAdapters.splice(0)) await adapter.close()
    },
  },
)
