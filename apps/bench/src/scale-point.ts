import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore, type SqliteVectorStore } from '@engram/sqlite-vector'
import { clusteredBatches, clusteredVectors } from './clustered-vectors.js'
import { recallAtK } from './exact-top-k.js'
import { readTruth } from './ground-truth.js'
import { MemorySampler, type Stats, summarise, timed } from './measure.js'
import type { Progress } from './row-process.js'
import { peakResidentBytes } from './row-process.js'
import type { ScaleTier } from './scale-tiers.js'
import { sizeOnDisk, TOP_K, vectorSeeds } from './vector-dataset.js'

/** `maintenance_work_mem` for pgvector's build: 500k × 384 needs about 1 GB of graph; the store's 256MB default would spill it to disk. */
const PG_BUILD_MEMORY = '2GB'
const BATCH = 1000
const COLLECTION = 'docs'

/** What the parent sends a scale-point child: a tier, a size and where things go. */
export interface ScalePointPayload {
  /** The tier to measure. */
  tier: ScaleTier
  /** Records to load. */
  count: number
  /** Numbers per vector. */
  dimension: number
  /** Held-out queries (the ground truth has one list per query). */
  queries: number
  /** Smoke sizes: every held-out query once, figures that mean nothing. */
  smoke: boolean
  /** The cached ground truth (`ground-truth.ts`). */
  truthFile: string
  /** A scratch folder for this point's files. */
  folder: string
  /** The PostgreSQL with pgvector the pgvector tier uses. */
  pgUrl: string
  /** Unique per point, for PostgreSQL schema and application names. */
  runId: string
}

/** One tier at one size, as measured. */
export interface ScalePointResult {
  /** Wall time of the ingest, in milliseconds. */
  ingestMs: number
  /** From the end of the ingest until the index answered from the graph and had every record; absent without an index. */
  buildMs?: number
  /** Whether the index was already complete when the ingest returned (built during it). */
  builtDuringIngest?: boolean
  /** The first query after the ingest (and build), apart from the percentiles. */
  firstQueryMs: number
  /** Latency of the timed queries. */
  query: Stats
  /** recall@10 against the ground truth. */
  recall: number
  /** Queries the recall was measured over. */
  recallQueries: number
  /** Bytes on disk, by part ("database", "index", "table", ...). */
  disk: Record<string, number>
  /** RSS peaks by phase, in bytes. */
  phaseRss: { ingest: number; build: number; queries: number }
  /** RSS once the queries were generated, before the store opened. */
  baselineRss: number
  /** The PostgreSQL backends' peak RSS (VmHWM) for this point's connections, when /proc shows them. */
  serverPeakRss?: number
}

/** Runs one tier at one size in this (child) process, streaming the data set in from its seed. */
export async function runScalePoint(
  payload: ScalePointPayload,
  progress: (p: Progress) => void,
): Promise<ScalePointResult> {
  const truth = readTruth(payload.truthFile)
  if (!truth) throw new Error(`the ground truth ${payload.truthFile} is missing or damaged`)
  const seeds = vectorSeeds(payload.dimension)
  const queries = clusteredVectors({
    count: payload.queries,
    dimension: payload.dimension,
    seed: seeds.queries,
  })
  mkdirSync(payload.folder, { recursive: true })
  const baselineRss = process.memoryUsage().rss
  const tier = await openTier(payload)
  try {
    progress({ phase: 'ingest', done: 0, of: payload.count })
    await tier.store.createCollection(COLLECTION, { dimension: payload.dimension })
    const ingest = await timed(async () => {
      let done = 0
      for (const batch of clusteredBatches(
        { count: payload.count, dimension: payload.dimension, seed: seeds.data },
        BATCH,
      )) {
        await tier.store.upsert(
          COLLECTION,
          batch.map((vector, j) => ({ id: `v${done + j}`, vector })),
        )
        done += batch.length
        if (done % 50_000 === 0) progress({ phase: 'ingest', done, of: payload.count })
      }
    })
    progress({ phase: 'index build' })
    const build = await timed(() => tier.build())
    progress({ phase: 'queries' })
    const search = async (q: Float32Array) =>
      (await tier.store.query(COLLECTION, { vector: q, topK: TOP_K })).map((m) => m.id)
    const first = await timed(() => search(queries[1 % queries.length] as Float32Array))
    const asked = await timed(() => askQueries(search, queries, payload))
    const answered = asked.value.results.length
    return {
      ingestMs: ingest.ms,
      ...(build.value.built ? { buildMs: build.ms, builtDuringIngest: build.value.already } : {}),
      firstQueryMs: first.ms,
      query: asked.value.stats,
      recall: recallAtK(asked.value.results, truth.slice(0, answered)),
      recallQueries: answered,
      disk: await tier.disk(),
      phaseRss: {
        ingest: ingest.peakRss,
        build: build.peakRss,
        queries: Math.max(first.peakRss, asked.peakRss),
      },
      baselineRss,
      ...(tier.serverPeakRss ? { serverPeakRss: await tier.serverPeakRss() } : {}),
    }
  } finally {
    await tier.close()
  }
}

/**
 * Asks the held-out queries once each (recall), then more rounds of them for the latency
 * figures on indexed tiers, one query at a time after 10 warm-up queries. A scanning tier stops
 * after 120 s (at least 20 queries), an indexed one after 1,000 queries or 60 s.
 */
async function askQueries(
  search: (q: Float32Array) => Promise<string[]>,
  queries: readonly Float32Array[],
  payload: ScalePointPayload,
): Promise<{ results: string[][]; stats: Stats }> {
  const scanning = payload.tier === 'sqlite-exact'
  const wanted = payload.smoke ? queries.length : scanning ? queries.length : 1000
  const maxMs = scanning ? 120_000 : 60_000
  const warmUp = scanning && !payload.smoke ? 3 : 10
  for (let i = 0; i < warmUp; i++) await search(queries[i % queries.length] as Float32Array)
  const sampler = new MemorySampler()
  const latencies: number[] = []
  const results: string[][] = []
  const started = performance.now()
  for (let i = 0; i < wanted; i++) {
    if (i >= 20 && performance.now() - started > maxMs) break
    const q = queries[i % queries.length] as Float32Array
    const t0 = performance.now()
    const ids = await search(q)
    latencies.push(performance.now() - t0)
    if (i < queries.length) results.push(ids)
    sampler.maybeSample()
  }
  const spent = latencies.reduce((a, b) => a + b, 0)
  return { results, stats: summarise(latencies, spent, 1, sampler.peaks()) }
}

/** A tier opened on its store: how to build its index, measure its disk, and close it. */
interface OpenTier {
  /** The tier's store. */
  store: VectorStore
  /** Builds (or waits for) the index; `built` is false for a tier without one. */
  build(): Promise<{ built: boolean; already: boolean }>
  /** Bytes on disk by part. */
  disk(): Promise<Record<string, number>>
  /** The server backends' peak RSS, for a tier with a server. */
  serverPeakRss?: () => Promise<number | undefined>
  close(): Promise<void>
}

async function openTier(payload: ScalePointPayload): Promise<OpenTier> {
  if (payload.tier === 'pgvector') return openPgvector(payload)
  const path = join(payload.folder, 'scale.db')
  const adapter = createSqliteNativeAdapter({ filename: path })
  const hnsw = payload.tier === 'sqlite-hnsw'
  const store = createSqliteVectorStore(hnsw ? { adapter, ann: { path } } : { adapter })
  return {
    store,
    build: async () => (hnsw ? waitForIndex(store, payload.count) : { built: false, already: false }),
    disk: async () => {
      const parts: Record<string, number> = { database: sizeOnDisk(path) + sizeOnDisk(`${path}-wal`) }
      const index = readdirSync(payload.folder)
        .filter((f) => f.includes('.hnsw'))
        .reduce((sum, f) => sum + sizeOnDisk(join(payload.folder, f)), 0)
      if (hnsw) parts.index = index
      return parts
    },
    close: async () => {
      await store.close()
      await adapter.close()
    },
  }
}

/**
 * The HNSW tier's build: the store builds the collection's index in a worker once the ingest
 * passes `exactBelow` (searching exactly meanwhile); `buildIndex` starts it if it has not
 * started and resolves once the index answers with every record. `already` says whether it was
 * ready when the ingest ended.
 */
async function waitForIndex(
  store: SqliteVectorStore,
  count: number,
): Promise<{ built: boolean; already: boolean }> {
  const status = await store.annStatus(COLLECTION)
  const already = status.open && status.size >= count && status.appliedSequence >= status.sequence
  await store.buildIndex(COLLECTION)
  return { built: true, already }
}

async function openPgvector(payload: ScalePointPayload): Promise<OpenTier> {
  const schema = `engram_bench_scale_${payload.runId}`
  const application = `engram_bench_scale_${payload.runId}`
  const url = `${payload.pgUrl}${payload.pgUrl.includes('?') ? '&' : '?'}application_name=${application}`
  const adapter = createPostgresAdapter({ connectionString: url, max: 4 })
  const store = createPgVectorStore({ adapter, schema, indexBuildMemory: PG_BUILD_MEMORY })
  const backendPeak = async () => {
    const pids = await adapter.all<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = ?',
      [application],
    )
    const peaks = pids
      .map((p) => peakResidentBytes(Number(p.pid)))
      .filter((b): b is number => b !== undefined)
    return peaks.length > 0 ? Math.max(...peaks) : undefined
  }
  return {
    store,
    build: async () => {
      await store.buildIndex(COLLECTION)
      await analyzeSchema(adapter, schema)
      return { built: true, already: false }
    },
    disk: async () => {
      const sizes = await adapter.get<{ total: string; indexes: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS total,
                coalesce(sum(pg_indexes_size(c.oid)), 0)::text AS indexes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ? AND c.relkind = 'r'`,
        [schema],
      )
      const total = Number(sizes?.total ?? 0)
      const indexes = Number(sizes?.indexes ?? 0)
      return { table: total - indexes, index: indexes }
    },
    serverPeakRss: backendPeak,
    close: async () => {
      await store.close()
      await adapter.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
      await adapter.close()
    },
  }
}

/** Fresh planner statistics after the bulk load, as an application would have them. */
async function analyzeSchema(adapter: StorageAdapter, schema: string): Promise<void> {
  const tables = await adapter.all<{ name: string }>(
    'SELECT tablename AS name FROM pg_tables WHERE schemaname = ?',
    [schema],
  )
  for (const { name } of tables) await adapter.exec(`ANALYZE "${schema}"."${name}"`)
}
