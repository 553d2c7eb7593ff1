import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VectorRecord } from '@engram/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteVectorStore } from '../src/index.js'
import { countingStatements, openAdapter as open, vectors } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-short-graph-walk-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

// Many records with one identical vector connect poorly in an HNSW graph: a walk towards them
// reaches only some. 400 copies spread among 4,000 other vectors (64 dimensions) are enough.
describe('sqlite-vector when the graph walk finds fewer records than asked for', () => {
  it('answers a vector query exactly, and takes hybrid candidates as found without scanning', async () => {
    const path = join(folder, 'copies.sqlite')
    const { adapter, sql } = countingStatements(open(path))
    // No exact cache: past it, as at 100,000 records of 384 dimensions, exact search reads every record.
    const store = createSqliteVectorStore({ adapter, ann: { path }, exactBelow: 1, exactCacheBytes: 0 })
    const dimension = 64
    const copied = vectors(1, dimension, 5)[0] as Float32Array
    const others = vectors(4000, dimension, 6)
    const records: VectorRecord[] = []
    for (let i = 0, o = 0; i < 4400; i++) {
      if (i % 11 === 0) records.push({ id: `copy${i}`, vector: copied, text: 'copied words' })
      else records.push({ id: `other${o}`, vector: others[o++] as Float32Array, text: 'other words' })
    }
    await store.createCollection('docs', { dimension })
    await store.upsert('docs', records)
    await store.buildIndex('docs')
    const near = Float32Array.from(copied, (x, j) => (j % 3 === 0 ? x + 0.6 : x))
    const scans = async (query: () => Promise<unknown>) => {
      const before = sql.length
      await query()
      return sql.slice(before).filter((s) => s.includes('WHERE label > ?')).length
    }

    // Vector mode promises the k best: the graph walk comes back short and exact search answers.
    let matches: Awaited<ReturnType<typeof store.query>> = []
    const vectorScans = await scans(async () => {
      matches = await store.query('docs', { vector: near, topK: 200 })
    })
    expect(vectorScans).toBeGreaterThan(0)
    expect(matches).toHaveLength(200)
    expect(matches.every((m) => m.id.startsWith('copy'))).toBe(true)

    // Hybrid's 200 vector candidates are fused with the text list: no scan of every record.
    const hybridScans = await scans(async () => {
      matches = await store.query('docs', { vector: near, text: 'copied', topK: 10, mode: 'hybrid' })
    })
    expect(hybridScans).toBe(0)
    expect(matches).toHaveLength(10)
    expect(matches.every((m) => m.id.startsWith('copy'))).toBe(true)
    await store.close()
  })
})
