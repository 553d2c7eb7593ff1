// The embedded vector tiers side by side with LanceDB and vectra on the same clustered data.
// Build and run: cd apps/bench && npx tsc -p tsconfig.build.json && node dist/embedded-vectors.js
// `--only exact` runs just the engram exact search at EXACT_SIZE.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRandom } from '@engram/conformance'
import { similarity } from '@engram/core'
import { createSqlVectorStore } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import * as lancedb from '@lancedb/lancedb'
import { LocalIndex } from 'vectra'

const DIMENSION = 384
const EXACT_SIZE = Number(process.env.EXACT_SIZE ?? 10_000)
const ANN_SIZE = Number(process.env.ANN_SIZE ?? 100_000)
const RECALL_QUERIES = Number(process.env.RECALL_QUERIES ?? 200)
const QPS_QUERIES = Number(process.env.QPS_QUERIES ?? 2000)
const VECTRA_QUERIES = Number(process.env.VECTRA_QUERIES ?? 50)
const TOP_K = 10
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
if (ONLY !== undefined && ONLY !== 'exact') throw new Error(`--only takes 'exact', got ${ONLY}`)

// The conformance suite's seeded generator, so every run and every library sees the same data.
const seeded = seededRandom

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

/** Points around 200 random centres, like embeddings of texts on a few hundred topics. */
function clustered(count: number, seed: number, centresSeed = 1): Float32Array[] {
  const centreRandom = seeded(centresSeed)
  const centres = Array.from({ length: 200 }, () =>
    Float32Array.from({ length: DIMENSION }, () => gaussian(centreRandom)),
  )
  const random = seeded(seed)
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * centres.length)] as Float32Array
    return Float32Array.from(centre, (x) => x + 0.6 * gaussian(random))
  })
}

function groundTruth(data: readonly Float32Array[], queries: readonly Float32Array[]): string[][] {
  return queries.map((query) => {
    const best: Array<{ i: number; s: number }> = []
    for (let i = 0; i < data.length; i++) {
      const s = similarity('cosine', query, data[i] as Float32Array)
      if (best.length < TOP_K || s > (best[best.length - 1] as { s: number }).s) {
        best.push({ i, s })
        best.sort((a, b) => b.s - a.s)
        if (best.length > TOP_K) best.pop()
      }
    }
    return best.map((b) => `v${b.i}`)
  })
}

function recallAt10(results: readonly string[][], truth: readonly string[][]): number {
  let found = 0
  results.forEach((ids, q) => {
    const wanted = new Set(truth[q])
    found += ids.filter((id) => wanted.has(id)).length
  })
  return found / (truth.length * TOP_K)
}

function sizeOf(path: string): number {
  const info = statSync(path)
  if (!info.isDirectory()) return info.size
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0)
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

interface Row {
  system: string
  vectors: number
  ingest: string
  index: string
  qps: string
  recall: string
  disk: string
}
const rows: Row[] = []
function report(row: Row): void {
  rows.push(row)
  console.log(`measured: ${JSON.stringify(row)}`)
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now()
  const value = await fn()
  return [value, performance.now() - start]
}

/** Sequential queries on one connection: what one agent process sees on one core. */
async function qps(
  queries: readonly Float32Array[],
  total: number,
  run: (q: Float32Array) => Promise<unknown>,
) {
  for (let i = 0; i < Math.min(50, total); i++) await run(queries[i % queries.length] as Float32Array)
  const start = performance.now()
  for (let i = 0; i < total; i++) await run(queries[i % queries.length] as Float32Array)
  return (total * 1000) / (performance.now() - start)
}

async function engramExact(
  folder: string,
  data: Float32Array[],
  queries: Float32Array[],
): Promise<string[][]> {
  const path = join(folder, 'exact.db')
  const store = createSqlVectorStore(createSqliteNativeAdapter({ filename: path }), { closeAdapter: true })
  await store.createCollection('docs', { dimension: DIMENSION })
  const [, ingest] = await timed(async () => {
    for (let i = 0; i < data.length; i += 1000) {
      await store.upsert(
        'docs',
        data.slice(i, i + 1000).map((vector, j) => ({ id: `v${i + j}`, vector })),
      )
    }
  })
  const truth = groundTruth(data, queries)
  const results: string[][] = []
  for (const q of queries)
    results.push((await store.query('docs', { vector: q, topK: TOP_K })).map((m) => m.id))
  const rate = await qps(queries, 200, (q) => store.query('docs', { vector: q, topK: TOP_K }))
  await store.close()
  report({
    system: 'engram exact (SQLite blobs)',
    vectors: data.length,
    ingest: seconds(ingest),
    index: '-',
    qps: `${rate.toFixed(0)} (${(1000 / rate).toFixed(2)} ms/query)`,
    recall: recallAt10(results, truth).toFixed(4),
    disk: mb(sizeOf(path) + sizeIfExists(`${path}-wal`)),
  })
  return truth
}

function sizeIfExists(path: string): number {
  try {
    return sizeOf(path)
  } catch {
    return 0
  }
}

async function engramAnn(folder: string, data: Float32Array[], queries: Float32Array[], truth: string[][]) {
  const path = join(folder, 'ann.db')
  const open = () =>
    createSqlVectorStore(createSqliteNativeAdapter({ filename: path }), { ann: { path }, closeAdapter: true })
  const store = open()
  await store.createCollection('docs', { dimension: DIMENSION })
  const [, ingest] = await timed(async () => {
    for (let i = 0; i < data.length; i += 1000) {
      await store.upsert(
        'docs',
        data.slice(i, i + 1000).map((vector, j) => ({ id: `v${i + j}`, vector })),
      )
    }
  })
  // The first query past the threshold back-fills the index and writes it to disk.
  const [, build] = await timed(() =>
    store.query('docs', { vector: queries[0] as Float32Array, topK: TOP_K }),
  )
  const results: string[][] = []
  for (const q of queries)
    results.push((await store.query('docs', { vector: q, topK: TOP_K })).map((m) => m.id))
  const rate = await qps(queries, QPS_QUERIES, (q) => store.query('docs', { vector: q, topK: TOP_K }))
  await store.close()
  const reopened = open()
  const [, reopen] = await timed(() =>
    reopened.query('docs', { vector: queries[1] as Float32Array, topK: TOP_K }),
  )
  const source = (await reopened.annStatus('docs')).source
  await reopened.close()
  const files = [path, `${path}-wal`, `${path}.docs.hnsw`, `${path}.docs.hnsw.json`]
  report({
    system: `engram + hnsw sidecar (M 16, efC 200, ef 64; reopen ${seconds(reopen)} from ${source})`,
    vectors: data.length,
    ingest: seconds(ingest),
    index: seconds(build),
    qps: rate.toFixed(0),
    recall: recallAt10(results, truth).toFixed(4),
    disk: `${mb(files.reduce((sum, f) => sum + sizeIfExists(f), 0))} (index ${mb(sizeIfExists(`${path}.docs.hnsw`))})`,
  })
}

async function lance(folder: string, data: Float32Array[], queries: Float32Array[], truth: string[][]) {
  const uri = join(folder, 'lancedb')
  const db = await lancedb.connect(uri)
  const [table, ingest] = await timed(async () => {
    const batch = (i: number) =>
      data.slice(i, i + 10_000).map((vector, j) => ({ id: `v${i + j}`, vector: Array.from(vector) }))
    const t = await db.createTable('docs', batch(0))
    for (let i = 10_000; i < data.length; i += 10_000) await t.add(batch(i))
    return t
  })
  const [, build] = await timed(() =>
    table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine' }) }),
  )
  const search = async (q: Float32Array) =>
    (
      await table
        .vectorSearch(Array.from(q))
        .distanceType('cosine')
        .select(['id', '_distance'])
        .limit(TOP_K)
        .toArray()
    ).map((r: { id: string }) => r.id)
  const results: string[][] = []
  for (const q of queries) results.push(await search(q))
  const rate = await qps(queries, Math.min(QPS_QUERIES, 1000), search)
  report({
    system: 'LanceDB 0.37.1 (HNSW-SQ, cosine)',
    vectors: data.length,
    ingest: seconds(ingest),
    index: seconds(build),
    qps: rate.toFixed(0),
    recall: recallAt10(results, truth).toFixed(4),
    disk: mb(sizeOf(uri)),
  })
}

async function vectra(folder: string, data: Float32Array[], queries: Float32Array[], truth: string[][]) {
  const path = join(folder, `vectra-${data.length}`)
  mkdirSync(path, { recursive: true })
  const index = new LocalIndex(path)
  await index.createIndex({ version: 1 })
  const [, ingest] = await timed(async () => {
    await index.beginUpdate()
    for (const [i, vector] of data.entries())
      await index.insertItem({ id: `v${i}`, vector: Array.from(vector) })
    await index.endUpdate()
  })
  const sample = queries.slice(0, VECTRA_QUERIES)
  const results: string[][] = []
  for (const q of sample)
    results.push((await index.queryItems(Array.from(q), '', TOP_K)).map((r) => r.item.id))
  const rate = await qps(sample, VECTRA_QUERIES, (q) => index.queryItems(Array.from(q), '', TOP_K))
  report({
    system: `vectra 0.11.1 (brute force in JS; ${VECTRA_QUERIES} queries)`,
    vectors: data.length,
    ingest: seconds(ingest),
    index: '-',
    qps: rate.toFixed(1),
    recall: recallAt10(results, truth.slice(0, VECTRA_QUERIES)).toFixed(4),
    disk: mb(sizeOf(path)),
  })
}

const folder = mkdtempSync(join(tmpdir(), 'engram-bench-vectors-'))
try {
  console.log(
    `engram embedded vectors on Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
  )
  console.log(`data: clustered (200 centres, σ 0.6), ${DIMENSION} dimensions, cosine, top ${TOP_K}`)
  const queries = clustered(RECALL_QUERIES, 7)
  const exactData = clustered(EXACT_SIZE, 3)
  const exactTruth = await engramExact(folder, exactData, queries)
  if (ONLY !== 'exact') {
    await vectra(folder, exactData, queries, exactTruth)
    const data = clustered(ANN_SIZE, 5)
    const [truth, truthMs] = await timed(async () => groundTruth(data, queries))
    console.log(`ground truth for ${queries.length} queries over ${data.length} vectors: ${seconds(truthMs)}`)
    await engramAnn(folder, data, queries, truth)
    await lance(folder, data, queries, truth)
    try {
      await vectra(folder, data, queries, truth)
    } catch (error) {
      // vectra keeps the whole index in one JSON string, which V8 caps at about 512 MB.
      const message = error instanceof Error ? error.message : String(error)
      report({
        system: `vectra 0.11.1: fails (${message})`,
        vectors: data.length,
        ingest: '-',
        index: '-',
        qps: '-',
        recall: '-',
        disk: '-',
      })
    }
  }
  console.log('\n| system | vectors | ingest | index build | queries/s | recall@10 | on disk |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(
      `| ${r.system} | ${r.vectors} | ${r.ingest} | ${r.index} | ${r.qps} | ${r.recall} | ${r.disk} |`,
    )
  }
} finally {
  rmSync(folder, { recursive: true, force: true })
}
