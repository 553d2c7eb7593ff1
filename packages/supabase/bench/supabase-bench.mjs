// Times the Supabase vector store through supabase-js, the PostgREST test server and the local
// PostgreSQL (what `pnpm test` uses), on a collection of N records of D dimensions.
// Build first, then run from the repository root:
//   npx tsc -p packages/test-servers/tsconfig.build.json && npx tsc -p packages/supabase/tsconfig.build.json
//   node packages/supabase/bench/supabase-bench.mjs [records=20000] [dimensions=384]
import { installSupabasePlatform, startPostgrestServer } from '@engram/test-servers/postgrest'
import pg from 'pg'
import { applySupabaseMigration, createSupabaseAdapter, createSupabaseVectorStore } from '../dist/index.js'

const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'
const N = Number(process.argv[2] ?? 20_000)
const D = Number(process.argv[3] ?? 384)
const schema = `engram_bench_api_${process.pid}`
const dataSchema = `engram_bench_data_${process.pid}`

let seed = 1
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31 - 0.5
}
const vector = () => Float32Array.from({ length: D }, random)

async function time(label, fn, runs = 50) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  console.log(
    `${label}: median ${times[runs >> 1].toFixed(1)} ms, p95 ${times[Math.floor(runs * 0.95)].toFixed(1)} ms`,
  )
}

await installSupabasePlatform(PG_URL)
const db = createSupabaseAdapter({ connectionString: PG_URL, tls: false })
await applySupabaseMigration(db, { schema, dataSchema })
await db.close()
const server = await startPostgrestServer({ connectionString: PG_URL, schemas: [schema] })
const options = { url: server.url, key: server.serviceRoleKey, schema }
const store = createSupabaseVectorStore(options)
const exact = createSupabaseVectorStore({ ...options, exactBelow: 2_147_483_647 })
try {
  const records = Array.from({ length: N }, (_, i) => ({
    id: `r${i}`,
    vector: vector(),
    metadata: { n: i % 10 },
    text: `word${i % 97} shared text ${i}`,
  }))
  await store.createCollection('bench', { dimension: D })
  const start = performance.now()
  await store.upsert('bench', records)
  const seconds = (performance.now() - start) / 1000
  console.log(
    `upsert ${N} × ${D} in one call, HNSW built at the end: ${seconds.toFixed(1)} s (${Math.round(N / seconds)} records/s)`,
  )
  await time('vector query, topK 10, exact', () => exact.query('bench', { vector: vector(), topK: 10 }))
  await time('vector query, topK 10, HNSW', () => store.query('bench', { vector: vector(), topK: 10 }))
  await time('vector query with filter { n: 3 }, HNSW', () =>
    store.query('bench', { vector: vector(), topK: 10, filter: { n: 3 } }),
  )
  await time('hybrid query, topK 10', () =>
    store.query('bench', { vector: vector(), text: 'word5', topK: 10 }),
  )
  await time('text query, topK 10', () => store.query('bench', { text: 'word5', topK: 10 }))
  await time('get 10 ids', () =>
    store.get(
      'bench',
      Array.from({ length: 10 }, (_, i) => `r${i * 7}`),
    ),
  )
  const scanStart = performance.now()
  let scanned = 0
  for await (const batch of store.scan('bench', { batchSize: 1000 })) scanned += batch.length
  console.log(
    `scan ${scanned} records in batches of 1000: ${((performance.now() - scanStart) / 1000).toFixed(1)} s`,
  )
} finally {
  await store.dropCollection('bench').catch(() => undefined)
  await store.close()
  await exact.close()
  await server.close()
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`)
  await client.end()
}
