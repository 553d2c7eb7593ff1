import { type AnnIndexOptions, validateFilter } from '@engram/core'
import { createHnswIndex } from '@engram/hnsw-sidecar'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import * as engine from '@engram/sqlite-vector'
import { describe, expect, it } from 'vitest'
import * as memory from '../src/index.js'

describe('the names that moved to @engram/sqlite-vector, for one release', () => {
  it('createSqlVectorStore maps annThreshold, ann.M and closeAdapter onto the new store', async () => {
    const adapter = createSqliteNativeAdapter({ filename: ':memory:' })
    const opened: AnnIndexOptions[] = []
    const store = memory.createSqlVectorStore(adapter, {
      annThreshold: 2,
      closeAdapter: true,
      ann: {
        path: ':memory:',
        M: 8,
        createIndex: (options) => {
          opened.push(options)
          return createHnswIndex(options)
        },
        removeIndex: async () => {},
      },
    })
    expect(store.kind).toBe('sqlite-vector')
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', [{ id: 'a', vector: [1, 0] }])
    await store.query('docs', { vector: [1, 0] })
    expect((await store.annStatus('docs')).open).toBe(false)
    await store.upsert('docs', [{ id: 'b', vector: [0, 1] }])
    expect((await store.query('docs', { vector: [0, 1] }))[0]?.id).toBe('b')
    expect((await store.annStatus('docs')).open).toBe(true)
    expect(opened.map((options) => options.m)).toEqual([8])
    await store.close()
    await store.close()
    await expect(adapter.get('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('createSqlVectorStore without closeAdapter leaves the adapter open', async () => {
    const adapter = createSqliteNativeAdapter({ filename: ':memory:' })
    const store = memory.createSqlVectorStore(adapter)
    await store.close()
    expect(await adapter.get('SELECT 1 AS one')).toEqual({ one: 1 })
    await adapter.close()
  })

  it('translateSqliteFilter returns the SQL and parameters sqliteFilter binds', () => {
    const node = validateFilter({ year: { $gte: 2020 }, tags: 'x' })
    const bound: unknown[] = []
    const sql = engine.sqliteFilter(node, {
      column: 'metadata',
      bind: (value) => {
        bound.push(value)
        return '?'
      },
    })
    expect(memory.translateSqliteFilter(node)).toEqual({ sql, params: bound })
  })

  it('the helpers are the engine package’s own', () => {
    expect(memory.ftsMatchQuery).toBe(engine.ftsMatchQuery)
    expect(memory.fts4Rank).toBe(engine.fts4Rank)
    expect(memory.createExactScorer).toBe(engine.createExactScorer)
  })
})
