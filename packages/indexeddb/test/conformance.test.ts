import { describeStorageAdapter, describeVectorStore } from '@engram/conformance'
import { createSqlVectorStore } from '@engram/memory'
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

describeVectorStore('SqlVectorStore on indexeddb (exact, FTS4)', async () =>
  createSqlVectorStore(await open(`vectors-${++counter}`), { closeAdapter: true }),
)
