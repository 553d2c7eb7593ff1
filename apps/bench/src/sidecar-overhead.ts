import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { clusteredVectors } from './clustered-vectors.js'
import { HNSW, loadHnswlib } from './embedded-vectors.js'
import { compare, printTable } from './measure.js'
import { vectorSeeds } from './vector-dataset.js'

/**
 * The HNSW sidecar's cost over hnswlib-node called directly, on the vector suite's 10,000 × 384
 * data and graph settings, in one process: `compare` alternates rounds between the two, so the
 * drift in machine speed that separate processes see hits both alike. The store answers with ids,
 * metadata and text; the raw index answers with labels.
 */
export async function sidecarOverhead(options: { smoke?: boolean } = {}): Promise<void> {
  const count = options.smoke ? 1500 : 10_000
  const dimension = 384
  const seeds = vectorSeeds(dimension)
  const data = clusteredVectors({ count, dimension, seed: seeds.data })
  const queries = clusteredVectors({ count: 200, dimension, seed: seeds.queries })
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-sidecar-'))
  const path = join(folder, 'ann.db')
  const adapter = createSqliteNativeAdapter({ filename: path })
  const store = createSqliteVectorStore({ adapter, ann: { path, ...HNSW } })
  try {
    await store.createCollection('docs', { dimension })
    for (let i = 0; i < count; i += 1000) {
      const batch = data
        .slice(i, i + 1000)
        .map((vector, j) => ({ id: `v${i + j}`, vector, metadata: { n: i + j } }))
      await store.upsert('docs', batch)
    }
    await store.buildIndex('docs')
    const { HierarchicalNSW } = loadHnswlib()
    const raw = new HierarchicalNSW('cosine', dimension)
    raw.initIndex({ maxElements: count, m: HNSW.m, efConstruction: HNSW.efConstruction })
    data.forEach((vector, i) => {
      raw.addPoint(Array.from(vector), i)
    })
    raw.setEf(HNSW.efSearch)
    let rawNext = 0
    let engramNext = 0
    const query = (i: number) => queries[i % queries.length] as Float32Array
    const results = await compare(
      [
        {
          name: 'hnswlib-node searchKnn(), labels only',
          run: () => raw.searchKnn(Array.from(query(rawNext++)), 10),
        },
        {
          name: 'engram sqlite-vector query() with the HNSW sidecar (ids, metadata)',
          run: () => store.query('docs', { vector: query(engramNext++), topK: 10 }),
        },
      ],
      options.smoke ? { rounds: 1, roundMs: 20 } : { rounds: 15, roundMs: 300 },
    )
    printTable(
      `ANN query, ${count.toLocaleString('en-US')} × ${dimension}, top 10 (M ${HNSW.m}, efConstruction ${HNSW.efConstruction}, ef ${HNSW.efSearch})`,
      results,
    )
  } finally {
    await store.close()
    await adapter.close()
    rmSync(folder, { recursive: true, force: true })
  }
}
