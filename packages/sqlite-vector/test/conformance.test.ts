import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeVectorStore } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll } from 'vitest'
import { createSqliteVectorStore } from '../src/index.js'
import { withFts } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqlite-vector-conformance-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
// The store never closes the adapter it is given, so the suite's cleanup hook closes them.
const opened: StorageAdapter[] = []
function track(adapter: StorageAdapter): StorageAdapter {
  opened.push(adapter)
  return adapter
}
async function closeAll(): Promise<void> {
  for (const adapter of opened.splice(0)) await adapter.close()
}
const memory = () => track(createSqliteNativeAdapter({ filename: ':memory:' }))

describeVectorStore(
  'sqlite-vector (exact, FTS5)',
  async () => createSqliteVectorStore({ adapter: memory() }),
  { cleanup: closeAll },
)

describeVectorStore(
  'sqlite-vector (exact, FTS4)',
  async () => createSqliteVectorStore({ adapter: withFts(memory(), 'fts4') }),
  { cleanup: closeAll },
)

describeVectorStore(
  'sqlite-vector (HNSW sidecar from the first record, WAL file)',
  async () => {
    const path = join(folder, `ann-${++counter}.db`)
    const adapter = track(createSqliteNativeAdapter({ filename: path }))
    return createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1 })
  },
  { approximate: true, cleanup: closeAll },
)

describeVectorStore(
  'sqlite-vector (no full-text module)',
  async () => createSqliteVectorStore({ adapter: withFts(memory(), false) }),
  { cleanup: closeAll },
)
