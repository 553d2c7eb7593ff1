import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
// The conformance suite's seeded generator, so every run sees the same data.
import { seededRandom } from '@engram/conformance'
import { similarity, type VectorRecord } from '@engram/core'
import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import pg from 'pg'
import { compare, printTable } from './measure.js'

/**
 * PgVectorStore on the local PostgreSQL: ingest rate, HNSW index build time, QPS and recall@10 against exact search at
 * two ef_search settings, a filtered query at 1% selectivity, and the adapter's overhead over
 * plain pg for a point select. A standalone script:
 *
 *   node dist/postgres-vectors.js [--n 100000 --dim 384 --queries 100 --url postgres://…]
 */
const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '100' },
    url: {
      type: 'string',
      default: process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test',
    },
  },
})
const N = Number(args.n)
const DIM = Number(args.dim)
const QUERIES = Number(args.queries)
const URL = args.url as string
const SCHEMA = 'engram_bench'
const CLUSTERS = 100
const TOP_K = 10

/** Points scattered around random centres, so nearest neighbours are meaningful (unlike uniform noise). */
function clustered(count: number, seed: number, centres: Float32Array[]): Float32Array[] {
  const random = seededRandom(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random())
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * centres.length)] as Float32Array
    return Float32Array.from(centre, (x) => x + gauss() * 0.35)
  })
}

function exactTop(query: Float32Array, vectors: Float32Array[], allowed: (i: number) => boolean): string[] {
  const scored: Array<{ i: number; s: number }> = []
  for (let i = 0; i < vectors.length; i++) {
    if (allowed(i)) scored.push({ i, s: similarity('cosine', query, vectors[i] as Float32Array) })
  }
  scored.sort((a, b) => b.s - a.s)
  return scored.slice(0, TOP_K).map(({ i }) => `v${i}`)
}

async function main(): Promise<void> {
  console.log(`PgVectorStore benchmark: ${N} × ${DIM} cosine, ${QUERIES} queries, top ${TOP_K}`)
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`)
  const adapter = createPostgresAdapter({ connectionString: URL, max: 4 })
  await adapter.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
  console.log(
    `server: ${(await adapter.get<{ v: string }>("SELECT current_setting('server_version') AS v"))?.v ?? '?'}`,
  )

  const centreRandom = seededRandom(1)
  const centres = Array.from({ length: CLUSTERS }, () =>
    Float32Array.from({ length: DIM }, () => centreRandom() * 2 - 1),
  )
  const vectors = clustered(N, 2, centres)
  const queries = clustered(QUERIES, 3, centres)
  // bucket = i % 100, so `{ bucket: 7 }` selects 1% of the records.
  const records = (start: number, end: number): VectorRecord[] =>
    vectors
      .slice(start, end)
      .map((vector, j) => ({ id: `v${start + j}`, vector, metadata: { bucket: (start + j) % 100 } }))

  const store40 = createPgVectorStore({ adapter, schema: SCHEMA, efSearch: 40 })
  await store40.createCollection('bench', { dimension: DIM })
  const started = performance.now()
  const batch = 1000
  for (let start = 0; start < N; start += batch) {
    await store40.upsert('bench', records(start, Math.min(N, start + batch)))
    if ((start / batch) % 10 === 9) process.stdout.write(`\r  ingested ${start + batch}`)
  }
  const ingestSeconds = (performance.now() - started) / 1000
  console.log(
    `\ningest (no HNSW index yet): ${(N / ingestSeconds).toFixed(0)} vectors/s (${ingestSeconds.toFixed(1)} s)`,
  )
  const buildStarted = performance.now()
  await store40.buildIndex('bench')
  const buildSeconds = (performance.now() - buildStarted) / 1000
  console.log(
    `index build (HNSW m=16, ef_construction=64, buildIndex): ${buildSeconds.toFixed(1)} s; ingest + build: ${(N / (ingestSeconds + buildSeconds)).toFixed(0)} vectors/s`,
  )
  const table = await adapter.get<{ id: number }>(
    `SELECT id FROM ${SCHEMA}.engram_collections WHERE name = 'bench'`,
  )
  await adapter.exec(`ANALYZE ${SCHEMA}.engram_v${Number(table?.id)}`)

  console.log('exact ground truth…')
  const truth = queries.map((q) => exactTop(q, vectors, () => true))
  const filteredTruth = queries.map((q) => exactTop(q, vectors, (i) => i % 100 === 7))

  const rows: string[][] = []
  const measure = async (label: string, efSearch: number, filter?: Record<string, number>) => {
    const store = createPgVectorStore({ adapter, schema: SCHEMA, efSearch })
    const expected = filter ? filteredTruth : truth
    let found = 0
    let filled = 0
    const t0 = performance.now()
    for (const [i, query] of queries.entries()) {
      const matches = await store.query('bench', {
        vector: query,
        topK: TOP_K,
        ...(filter ? { filter } : {}),
      })
      if (matches.length === TOP_K) filled++
      const want = new Set(expected[i])
      found += matches.filter((m) => want.has(m.id)).length
    }
    const seconds = (performance.now() - t0) / 1000
    rows.push([
      label,
      String(efSearch),
      (QUERIES / seconds).toFixed(0),
      (found / (QUERIES * TOP_K)).toFixed(3),
      `${filled}/${QUERIES}`,
    ])
    await store.close()
  }
  await measure('vector', 40)
  await measure('vector', 200)
  await measure('vector, filter 1%', 40, { bucket: 7 })
  await measure('vector, filter 1%', 200, { bucket: 7 })
  console.log('\n| query | ef_search | QPS (1 client) | recall@10 | filled topK |')
  console.log('|---|---|---|---|---|')
  for (const row of rows) console.log(`| ${row.join(' | ')} |`)

  // The adapter's overhead over plain pg for a point select by primary key (same server, same run).
  await adapter.exec(`CREATE TABLE ${SCHEMA}.kv (id INT PRIMARY KEY, name TEXT NOT NULL, score DOUBLE PRECISION NOT NULL);
    INSERT INTO ${SCHEMA}.kv SELECT i, 'name-' || i, i / 7.0 FROM generate_series(1, 10000) i`)
  const pool = new pg.Pool({ connectionString: URL, max: 4 })
  let next = 0
  const key = () => {
    next = (next * 7919 + 1) % 10_000
    return next + 1
  }
  const results = await compare([
    {
      name: 'point select, plain pg pool.query',
      run: () => pool.query(`SELECT id, name, score FROM ${SCHEMA}.kv WHERE id = $1`, [key()]),
    },
    {
      name: 'point select, engram adapter.get',
      run: () => adapter.get(`SELECT id, name, score FROM ${SCHEMA}.kv WHERE id = ?`, [key()]),
    },
  ])
  printTable('Point select by primary key (10,000 rows)', results)

  await pool.end()
  await store40.close()
  await adapter.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`)
  await adapter.close()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
