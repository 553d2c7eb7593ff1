import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import { PgVector } from '@mastra/pg'
import pg from 'pg'
import { timed } from './measure.js'
import { attempt, type ResultRow } from './result-table.js'
import { measureSearch, TOP_K, type VectorDataset, vectorExtras } from './vector-dataset.js'

/** pgvector's own defaults for HNSW, used by all three rows; `ef_search` 40 is pgvector's default too. */
const HNSW = { m: 16, efConstruction: 64, efSearch: 40 }
const BATCH = 1000
const literal = (v: Float32Array) => `[${Array.from(v).join(',')}]`

/**
 * The PostgreSQL rows of the vector suite, each in its own schema on the same server: raw pg with
 * hand-written pgvector SQL (the floor), engram's PgVectorStore, and @mastra/pg's PgVector. All
 * ingest without the HNSW index, then build it with the same m and ef_construction, and search
 * with ef_search 40 (raw SQL and engram with pgvector's relaxed-order iterative scan, as engram
 * always searches; @mastra/pg's query has no such option). Schemas are dropped afterwards.
 */
export async function postgresVectors(ds: VectorDataset, url: string): Promise<ResultRow[]> {
  const suffix = `${process.pid}_${ds.dimension}_${ds.data.length}`
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  const schemas = [
    `engram_bench_raw_${suffix}`,
    `engram_bench_engram_${suffix}`,
    `engram_bench_mastra_${suffix}`,
  ]
  try {
    return [
      await rawPgvector(ds, url, schemas[0] as string),
      await engramPgVectorStore(ds, url, schemas[1] as string),
      await mastraPgVector(ds, url, schemas[2] as string),
    ]
  } finally {
    for (const schema of schemas)
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
    await admin.end().catch(() => undefined)
  }
}

async function rawPgvector(ds: VectorDataset, url: string, schema: string): Promise<ResultRow> {
  return attempt('raw pg + pgvector SQL (one round trip per query)', 'raw', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    const client = await pool.connect()
    try {
      await client.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}, public;
        CREATE TABLE items (id TEXT PRIMARY KEY, embedding vector(${ds.dimension}) NOT NULL)`)
      const ingested = await timed(async () => {
        for (let i = 0; i < ds.data.length; i += BATCH) {
          const rows = ds.data.slice(i, i + BATCH)
          const values = rows.map((_, j) => `($${2 * j + 1}, $${2 * j + 2}::vector)`).join(', ')
          await client.query(
            `INSERT INTO items (id, embedding) VALUES ${values}`,
            rows.flatMap((v, j) => [`v${i + j}`, literal(v)]),
          )
        }
      })
      const built = await timed(async () => {
        await client.query(`SET maintenance_work_mem = '256MB'`)
        await client.query(
          `CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops) WITH (m = ${HNSW.m}, ef_construction = ${HNSW.efConstruction})`,
        )
        await client.query('ANALYZE items')
      })
      // The same search settings PgVectorStore uses: its iterative scan is what fills topK behind a
      // filter or another tenant's rows (with no filter it costs next to nothing, measured).
      await client.query(`SET hnsw.ef_search = ${HNSW.efSearch}; SET hnsw.iterative_scan = relaxed_order`)
      const { stats, recall } = await measureSearch(
        ds,
        async (q) =>
          (
            await client.query<{ id: string }>(
              `SELECT id FROM items ORDER BY embedding <=> $1::vector LIMIT ${TOP_K}`,
              [literal(q)],
            )
          ).rows.map((r) => r.id),
        ds.fastQueries,
      )
      return { stats, extra: vectorExtras({ ingestMs: ingested.ms, buildMs: built.ms, recall }) }
    } finally {
      client.release()
      await pool.end()
    }
  })
}

async function engramPgVectorStore(ds: VectorDataset, url: string, schema: string): Promise<ResultRow> {
  return attempt('engram PgVectorStore (buildIndex after ingest)', 'engram', async () => {
    const adapter = createPostgresAdapter({ connectionString: url, max: 4 })
    const store = createPgVectorStore({
      adapter,
      schema,
      m: HNSW.m,
      efConstruction: HNSW.efConstruction,
      efSearch: HNSW.efSearch,
    })
    try {
      await store.createCollection('bench', { dimension: ds.dimension })
      const ingested = await timed(async () => {
        for (let i = 0; i < ds.data.length; i += BATCH) {
          await store.upsert(
            'bench',
            ds.data.slice(i, i + BATCH).map((vector, j) => ({ id: `v${i + j}`, vector })),
          )
        }
      })
      const built = await timed(async () => {
        await store.buildIndex('bench')
        const table = await adapter.get<{ id: number }>(
          `SELECT id FROM ${schema}.engram_collections WHERE name = 'bench'`,
        )
        await adapter.exec(`ANALYZE ${schema}.engram_v${Number(table?.id)}`)
      })
      const { stats, recall } = await measureSearch(
        ds,
        async (q) => (await store.query('bench', { vector: q, topK: TOP_K })).map((m) => m.id),
        ds.fastQueries,
      )
      return { stats, extra: vectorExtras({ ingestMs: ingested.ms, buildMs: built.ms, recall }) }
    } finally {
      await store.close()
      await adapter.close()
    }
  })
}

async function mastraPgVector(ds: VectorDataset, url: string, schema: string): Promise<ResultRow> {
  return attempt('@mastra/pg 0.17.10 PgVector (HNSW, buildIndex after ingest)', 'alternative', async () => {
    const store = new PgVector({ connectionString: url, schemaName: schema })
    const indexConfig = { type: 'hnsw' as const, hnsw: { m: HNSW.m, efConstruction: HNSW.efConstruction } }
    try {
      // Its docs' bulk-load path: create the table without the index, upsert, then buildIndex.
      await store.createIndex({
        indexName: 'bench',
        dimension: ds.dimension,
        metric: 'cosine',
        indexConfig,
        buildIndex: false,
      })
      const ingested = await timed(async () => {
        for (let i = 0; i < ds.data.length; i += BATCH) {
          const rows = ds.data.slice(i, i + BATCH)
          await store.upsert({
            indexName: 'bench',
            vectors: rows.map((v) => Array.from(v)),
            ids: rows.map((_, j) => `v${i + j}`),
          })
        }
      })
      const built = await timed(() => store.buildIndex({ indexName: 'bench', metric: 'cosine', indexConfig }))
      const { stats, recall } = await measureSearch(
        ds,
        async (q) =>
          (
            await store.query({
              indexName: 'bench',
              queryVector: Array.from(q),
              topK: TOP_K,
              ef: HNSW.efSearch,
            })
          ).map((m) => m.id),
        ds.fastQueries,
      )
      return { stats, extra: vectorExtras({ ingestMs: ingested.ms, buildMs: built.ms, recall }) }
    } finally {
      await store.disconnect()
    }
  })
}
