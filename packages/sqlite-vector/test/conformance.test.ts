import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeVectorStore } from '@engram/conformance'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll } from 'vitest'
import { createSqlVectorStore } from '../src/index.js'
import { withFts } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-memory-conformance-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0

describeVectorStore('SqlVectorStore (exact, FTS5)', async () =>
  createSqlVectorStore(createSqliteNativeAdapter({ filename: ':memory:' }), { closeAdapter: true }),
)

describeVectorStore('SqlVectorStore (exact, FTS4)', async () =>
  createSqlVectorStore(withFts(createSqliteNativeAdapter({ filename: ':memory:' }), 'fts4'), {
    closeAdapter: true,
  }),
)

describeVectorStore(
  'SqlVectorStore (HNSW sidecar from the first record, file database)',
  async () => {
    const path = join(folder, `ann-${++counter}.db`)
    return createSqlVectorStore(createSqliteNativeAdapter({ filename: path }), {
      ann: { path },
      annThreshold: 1,
      closeAdapter: true,
    })
  },
  { approximate: true },
)

describeVectorStore('SqlVectorStore (no full-text module)', async () =>
  createSqlVectorStore(withFts(createSqliteNativeAdapter({ filename: ':memory:' }), false), {
    closeAdapter: true,
  }),
)
