import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import Database from 'better-sqlite3'
import { clusteredVectors } from './clustered-vectors.js'
import { HNSW, loadHnswlib } from './embedded-vectors.js'
import { compare, printTable } from './measure.js'
import { vectorSeeds } from './vector-dataset.js'
import type { VectorSize } from './vectors-suite.js'

const TOP_K = 10

/**
 * The HNSW sidecar's cost over hnswlib-node called directly, on the vector suite's data and graph
 * settings (10,000 × 384 unless `sizes` says otherwise), in one process: `compare` alternates
 * rounds between the rows, so the drift in machine speed that separate processes see hits them
 * alike. The raw index answers with labels; the store answers with ids and metadata. The middle
 * row builds that same answer by hand: the raw index's labels, then one prepared better-sqlite3
 * statement reading the winners' ids and metadata from the store's own table in the same file.
 * The raw rows get each query as a plain array, hnswlib-node's own input, so they pay no conversion.
 * The queries repeat, so after the first round engram answers every winner from its record cache;
 * the last row is the same store with that cache off, which reads every query's winners as a
 * query whose winners were never returned before does.
 */
export async function sidecarOverhead(options: { smoke?: boolean; sizes?: readonly VectorSize[] } = {}) {
  const sizes = options.smoke
    ? [{ count: 1500, dimension: 384 }]
    : (options.sizes ?? [{ count: 10_000, dimension: 384 }])
  for (const size of sizes) await sidecarAt(size, options.smoke ?? false)
}

async function sidecarAt({ count, dimension }: VectorSize, smoke: boolean): Promise<void> {
  const seeds = vectorSeeds(dimension)
  const data = clusteredVectors({ count, dimension, seed: seeds.data })
  const queries = clusteredVectors({ count: 200, dimension, seed: seeds.queries })
  const plainQueries = queries.map((q) => Array.from(q))
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-sidecar-'))
  const path = join(folder, 'ann.db')
  const adapter = createSqliteNativeAdapter({ filename: path })
  const store = createSqliteVectorStore({ adapter, ann: { path, ...HNSW } })
  const uncached = createSqliteVectorStore({ adapter, ann: { path, ...HNSW }, recordCacheBytes: 0 })
  let direct: Database.Database | undefined
  try {
    await store.createCollection('docs', { dimension })
    for (let i = 0; i < count; i += 1000) {
      const batch = data
        .slice(i, i + 1000)
        .map((vector, j) => ({ id: `v${i + j}`, vector, metadata: { n: i + j } }))
      await store.upsert('docs', batch)
    }
    await store.buildIndex('docs')
    await uncached.buildIndex('docs')
    const { HierarchicalNSW } = loadHnswlib()
    const raw = new HierarchicalNSW('cosine', dimension)
    raw.initIndex({ maxElements: count, m: HNSW.m, efConstruction: HNSW.efConstruction })
    data.forEach((vector, i) => {
      raw.addPoint(Array.from(vector), i)
    })
    raw.setEf(HNSW.efSearch)
    direct = new Database(path, { readonly: true })
    const table = direct
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'engram_vec_%'`)
      .pluck()
      .get() as string
    const winners = direct.prepare<number[], { label: number; id: string; metadata: string }>(
      `SELECT label, id, metadata FROM ${table} WHERE label IN (${new Array(TOP_K).fill('?').join(', ')})`,
    )
    // The store's labels start at 1 in insertion order; the raw index was given 0-based positions.
    const byHand = (vector: number[]) => {
      const { neighbors, distances } = raw.searchKnn(vector, TOP_K)
      const rows = winners.all(...neighbors.map((n) => n + 1))
      const byLabel = new Map(rows.map((row) => [row.label, row]))
      return neighbors.flatMap((n, i) => {
        const row = byLabel.get(n + 1)
        if (row === undefined) return []
        return [
          { id: row.id, score: 1 - (distances[i] as number), metadata: JSON.parse(row.metadata) as unknown },
        ]
      })
    }
    const agreement = await agreementOf(
      queries.length,
      (i) => byHand(plainQueries[i] as number[]),
      (i) => store.query('docs', { vector: queries[i] as Float32Array, topK: TOP_K }),
    )
    let rawNext = 0
    let handNext = 0
    let engramNext = 0
    let uncachedNext = 0
    const results = await compare(
      [
        {
          name: 'hnswlib-node searchKnn(), labels only',
          run: () => raw.searchKnn(plainQueries[rawNext++ % plainQueries.length] as number[], TOP_K),
        },
        {
          name: 'hnswlib-node searchKnn() + a prepared better-sqlite3 read of the winners (ids, metadata)',
          run: () => byHand(plainQueries[handNext++ % plainQueries.length] as number[]),
        },
        {
          name: 'engram sqlite-vector query() with the HNSW sidecar (ids, metadata)',
          run: () =>
            store.query('docs', {
              vector: queries[engramNext++ % queries.length] as Float32Array,
              topK: TOP_K,
            }),
        },
        {
          name: 'engram sqlite-vector query(), record cache off (every winner read)',
          run: () =>
            uncached.query('docs', {
              vector: queries[uncachedNext++ % queries.length] as Float32Array,
              topK: TOP_K,
            }),
        },
      ],
      smoke ? { rounds: 1, roundMs: 20 } : { rounds: 15, roundMs: 300 },
    )
    printTable(
      `ANN query, ${count.toLocaleString('en-US')} × ${dimension}, top ${TOP_K} (M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${HNSW.efSearch})`,
      results,
    )
    console.log(`\n${agreement}`)
  } finally {
    direct?.close()
    await store.close()
    await uncached.close()
    await adapter.close()
    rmSync(folder, { recursive: true, force: true })
  }
}

/**
 * How many of the hand-built answer's ids engram's answer holds too, over every query:
 * the two walk graphs built apart from the same data, so a rare neighbour may differ, but a
 * figure far below 100% would mean the rows do not do the same work.
 */
async function agreementOf(
  n: number,
  byHand: (i: number) => { id: string }[],
  engram: (i: number) => Promise<{ id: string }[]>,
): Promise<string> {
  let shared = 0
  let total = 0
  for (let i = 0; i < n; i++) {
    const mine = new Set((await engram(i)).map((match) => match.id))
    const theirs = byHand(i)
    total += theirs.length
    shared += theirs.filter((match) => mine.has(match.id)).length
  }
  return `The hand-built answer and engram's share ${shared.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} top-${TOP_K} ids over ${n} queries (${((100 * shared) / total).toFixed(1)}%).`
}
