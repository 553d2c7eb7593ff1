import { reciprocalRankFusion, type StorageAdapter, type VectorStore } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

const schema = freshSchema('engram_prune')
let adapter: StorageAdapter
let pruning: VectorStore
let plain: VectorStore

// 40 records: every text has "the", all but three have "note", three have "kiwi".
const records = Array.from({ length: 40 }, (_, i) => ({
  id: `r${String(i).padStart(2, '0')}`,
  vector: [1, i],
  text: i < 3 ? `the kiwi tart ${i}` : `the plain note ${i % 7}`,
}))
const ranked = (matches: ReadonlyArray<{ id: string; score: number }>) => matches.map((m) => [m.id, m.score])

beforeAll(async () => {
  await requireDatabase()
  adapter = createPostgresAdapter({ connectionString: PG_URL })
  pruning = createPgVectorStore({ adapter, schema, termPruningThreshold: 20, commonTermFraction: 0.5 })
  plain = createPgVectorStore({ adapter, schema })
  await pruning.createCollection('docs', { dimension: 2 })
  await pruning.upsert('docs', records)
  // Pruning reads the share of rows holding each word from the table's planner statistics.
  await adapter.exec(`ANALYZE ${schema}.engram_v1`)
})

afterAll(async () => {
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

describe('PgVectorStore term pruning', () => {
  it('drops a word found in most records of a large collection', async () => {
    const withCommon = await pruning.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })
    expect(ranked(withCommon)).toEqual(
      ranked(await pruning.query('docs', { text: 'kiwi', mode: 'text', topK: 40 })),
    )
    expect(withCommon.map((m) => m.id)).toEqual(['r00', 'r01', 'r02'])
  })

  it('searches every word below the pruning threshold', async () => {
    expect(await plain.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })).toHaveLength(40)
  })

  it('keeps the rarest word when every word is common', async () => {
    const matches = await pruning.query('docs', { text: 'the note', mode: 'text', topK: 40 })
    expect(matches).toHaveLength(37)
    expect(ranked(matches)).toEqual(
      ranked(await pruning.query('docs', { text: 'note', mode: 'text', topK: 40 })),
    )
    expect(await pruning.query('docs', { text: 'the', mode: 'text', topK: 40 })).toHaveLength(40)
  })

  it('fuses hybrid results from the pruned text list', async () => {
    const vector = Float32Array.from([0.2, 1])
    const vectorList = await pruning.query('docs', { vector, mode: 'vector', topK: 40 })
    const textList = await pruning.query('docs', { text: 'the kiwi', mode: 'text', topK: 40 })
    const fused = reciprocalRankFusion([vectorList, textList], { limit: 10 })
    const hybrid = await pruning.query('docs', { vector, text: 'the kiwi', mode: 'hybrid', topK: 10 })
    expect(hybrid.map((m) => m.id)).toEqual(fused.map((f) => f.id))
  })
})
