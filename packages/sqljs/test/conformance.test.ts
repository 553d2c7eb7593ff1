import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStorageAdapter } from '@engram/conformance'
import { afterAll } from 'vitest'
import { createSqlJsAdapter } from '../src/index.js'

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
