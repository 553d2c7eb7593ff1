import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore, type SqliteVectorStore } from '@engram/sqlite-vector'
import * as lancedb from '@lancedb/lancedb'
import { LocalIndex } from 'vectra'
import { exactTopK } from './exact-top-k.js'
import { timed } from './measure.js'
import { attempt, type ResultRow } from './result-table.js'
import { measureSearch, sizeOnDisk, TOP_K, type VectorDataset, vectorExtras } from './vector-dataset.js'

/**
 * HNSW settings given to both the raw hnswlib row and engram's sidecar, so the two rows build the
 * same graph; they are the settings the published figures were measured with (engram's own
 * defaults are core's `HNSW_DEFAULTS`).
 */
export const HNSW = { m: 16, efConstruction: 200, efSearch: 64 }
const BATCH = 1000

/** The part of hnswlib-node's API the raw row uses (described here, so no types are imported). */
export interface HnswModule {
  HierarchicalNSW: new (
    space: 'cosine' | 'l2' | 'ip',
    dimension: number,
  ) => {
    initIndex(options: { maxElements: number; m: number; efConstruction: number }): void
    addPoint(point: number[], label: number): void
    setEf(ef: number): void
    searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] }
  }
}

/**
 * hnswlib-node is not a dependency of the bench app, only of @engram/hnsw-sidecar; resolving it
 * from there gives the raw row the very build the sidecar runs on, without a second install.
 */
export function loadHnswlib(): HnswModule {
  const sidecar = fileURLToPath(import.meta.resolve('@engram/hnsw-sidecar'))
  return createRequire(sidecar)('hnswlib-node') as HnswModule
}

/** The floor for exact search: a loop over Float32Arrays already in memory, no storage at all. */
export async function rawBruteForce(ds: VectorDataset): Promise<ResultRow> {
  return attempt('raw: brute force over one normalised Float32Array in memory', 'raw', async () => {
    const built = await timed(() => exactTopK(ds.data))
    const search = built.value
    const { stats, recall } = await measureSearch(ds, (q) => search(q, TOP_K), ds.slowQueries)
    return { stats, extra: vectorExtras({ buildMs: built.ms, recall, buildRss: built.peakRss }) }
  })
}

async function ingest(store: SqliteVectorStore, data: readonly Float32Array[]): Promise<void> {
  await store.createCollection('docs', { dimension: data[0]?.length ?? 0 })
  for (let i = 0; i < data.length; i += BATCH) {
    await store.upsert(
      'docs',
      data.slice(i, i + BATCH).map((vector, j) => ({ id: `v${i + j}`, vector })),
    )
  }
}

/** engram's SQL vector store without the sidecar: Float32 blobs in SQLite, exact search (with its in-memory cache). */
export async function engramExact(ds: VectorDataset): Promise<ResultRow> {
  return attempt('engram SqlVectorStore, exact (no sidecar)', 'engram', async () => {
    const path = join(ds.folder, 'exact.db')
    const adapter = createSqliteNativeAdapter({ filename: path })
    const store = createSqliteVectorStore({ adapter })
    try {
      const built = await timed(() => ingest(store, ds.data))
      const { stats, recall } = await measureSearch(
        ds,
        async (q) => (await store.query('docs', { vector: q, topK: TOP_K })).map((m) => m.id),
        ds.slowQueries,
      )
      return {
        stats,
        extra: vectorExtras({
          ingestMs: built.ms,
          recall,
          buildRss: built.peakRss,
          diskBytes: sizeOnDisk(path) + sizeOnDisk(`${path}-wal`),
        }),
      }
    } finally {
      await store.close()
      await adapter.close()
    }
  })
}

/** engram's SQL vector store with the hnswlib sidecar (`ann`), the embedded default past 1,000 records. */
export async function engramAnn(ds: VectorDataset): Promise<ResultRow> {
  return attempt(
    `engram SqlVectorStore + hnsw sidecar (M ${HNSW.m}, efC ${HNSW.efConstruction}, ef ${HNSW.efSearch})`,
    'engram',
    async () => {
      const path = join(ds.folder, 'ann.db')
      const adapter = createSqliteNativeAdapter({ filename: path })
      const store = createSqliteVectorStore({ adapter, ann: { path, ...HNSW } })
      try {
        const ingested = await timed(() => ingest(store, ds.data))
        // Past the threshold the store builds the index in a worker and searches exactly until it
        // is ready; the build is timed until the index answers with every record.
        const built = await timed(async () => {
          await store.buildIndex('docs')
          return store.query('docs', { vector: ds.queries[0] as Float32Array, topK: TOP_K })
        })
        const { stats, recall } = await measureSearch(
          ds,
          async (q) => (await store.query('docs', { vector: q, topK: TOP_K })).map((m) => m.id),
          ds.fastQueries,
        )
        return {
          stats,
          extra: vectorExtras({
            ingestMs: ingested.ms,
            buildMs: built.ms,
            recall,
            buildRss: Math.max(ingested.peakRss, built.peakRss),
            diskBytes: [path, `${path}-wal`, `${path}.docs.hnsw`, `${path}.docs.hnsw.json`].reduce(
              (sum, f) => sum + sizeOnDisk(f),
              0,
            ),
          }),
        }
      } finally {
        await store.close()
        await adapter.close()
      }
    },
  )
}

/** hnswlib-node used directly, with the sidecar's settings: the floor for the embedded ANN tier. */
export async function rawHnswlib(ds: VectorDataset): Promise<ResultRow> {
  return attempt(`raw hnswlib-node 3.0.0 (same M, efC, ef; in memory, no persistence)`, 'raw', async () => {
    const { HierarchicalNSW } = loadHnswlib()
    const index = new HierarchicalNSW('cosine', ds.dimension)
    const built = await timed(() => {
      index.initIndex({ maxElements: ds.data.length, m: HNSW.m, efConstruction: HNSW.efConstruction })
      ds.data.forEach((v, i) => {
        index.addPoint(Array.from(v), i)
      })
      index.setEf(HNSW.efSearch)
    })
    const { stats, recall } = await measureSearch(
      ds,
      (q) => index.searchKnn(Array.from(q), TOP_K).neighbors.map((label) => `v${label}`),
      ds.fastQueries,
    )
    return { stats, extra: vectorExtras({ buildMs: built.ms, recall, buildRss: built.peakRss }) }
  })
}

/**
 * LanceDB on the same data, used as its docs show: one table, a flat (exact) search before any
 * index, then an HNSW-SQ index with its default settings. Returns the exact row and the ANN row.
 */
export async function lance(ds: VectorDataset): Promise<{ exact: ResultRow; ann: ResultRow }> {
  const uri = join(ds.folder, 'lancedb')
  let table: lancedb.Table | undefined
  let ingest: { ms: number; peakRss: number } | undefined
  const search = async (q: Float32Array) => {
    if (!table) throw new Error('the LanceDB table was not created')
    const rows = (await table
      .vectorSearch(Array.from(q))
      .distanceType('cosine')
      // With `_distance` named, LanceDB does not warn about its changing auto-projection.
      .select(['id', '_distance'])
      .limit(TOP_K)
      .toArray()) as Array<{ id: string }>
    return rows.map((r) => r.id)
  }
  const exact = await attempt('LanceDB 0.37.1, flat search (no index)', 'alternative', async () => {
    const db = await lancedb.connect(uri)
    const loaded = await timed(async () => {
      const batch = (i: number) =>
        ds.data.slice(i, i + 10_000).map((vector, j) => ({ id: `v${i + j}`, vector: Array.from(vector) }))
      const t = await db.createTable('docs', batch(0))
      for (let i = 10_000; i < ds.data.length; i += 10_000) await t.add(batch(i))
      return t
    })
    table = loaded.value
    ingest = loaded
    const { stats, recall } = await measureSearch(ds, search, ds.slowQueries)
    return {
      stats,
      extra: vectorExtras({
        ingestMs: loaded.ms,
        recall,
        buildRss: loaded.peakRss,
        diskBytes: sizeOnDisk(uri),
      }),
    }
  })
  const ann = await attempt(
    'LanceDB 0.37.1, HNSW-SQ index (its defaults, cosine)',
    'alternative',
    async () => {
      if (!table || !ingest) throw new Error(`the table could not be created: ${exact.error ?? 'unknown'}`)
      const t = table
      const built = await timed(() =>
        t.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine' }) }),
      )
      const { stats, recall } = await measureSearch(ds, search, ds.fastQueries)
      return {
        stats,
        extra: vectorExtras({
          ingestMs: ingest.ms,
          buildMs: built.ms,
          recall,
          buildRss: Math.max(ingest.peakRss, built.peakRss),
          diskBytes: sizeOnDisk(uri),
        }),
      }
    },
  )
  table?.close()
  return { exact, ann }
}

/** vectra 0.11.1, a local JSON-file index searched by brute force in JS, used as its README shows. */
export async function vectra(ds: VectorDataset): Promise<ResultRow> {
  return attempt('vectra 0.11.1 (JSON file, brute force in JS)', 'alternative', async () => {
    const path = join(ds.folder, 'vectra')
    mkdirSync(path, { recursive: true })
    const index = new LocalIndex(path)
    await index.createIndex({ version: 1 })
    const built = await timed(async () => {
      await index.beginUpdate()
      for (const [i, vector] of ds.data.entries())
        await index.insertItem({ id: `v${i}`, vector: Array.from(vector) })
      // At 100,000 × 384 this throws: the whole index is one JSON string, over V8's string limit.
      await index.endUpdate()
    })
    const { stats, recall } = await measureSearch(
      ds,
      async (q) => (await index.queryItems(Array.from(q), '', TOP_K)).map((r) => r.item.id),
      ds.slowQueries,
    )
    return {
      stats,
      extra: vectorExtras({
        ingestMs: built.ms,
        recall,
        buildRss: built.peakRss,
        diskBytes: sizeOnDisk(path),
      }),
    }
  })
}
