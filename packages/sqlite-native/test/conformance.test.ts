import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStorageAdapter } from '@engram/conformance'
import { createSqliteNativeAdapter } from '../src/index.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqlite-native-'))
let counter = 0

describeStorageAdapter('sqlite-native', async () => createSqliteNativeAdapter({ filename: ':memory:' }), {
  persistence: {
    newLocation: () => join(folder, `db-${++counter}.sqlite`),
    open: async (location) => createSqliteNativeAdapter({ filename: location }),
    exists: (location) => existsSync(location),
    memoryLocation: ':memory:',
  },
})

describeStorageAdapter(
  'sqlite-native (file, WAL)',
  async () => createSqliteNativeAdapter({ filename: join(folder, `suite-${++counter}.sqlite`) }),
  { groups: { streaming: false, persistence: false } },
)
