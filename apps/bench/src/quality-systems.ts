import { join } from 'node:path'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { Memory } from '@engram/memory'
import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { annReady } from './ann-ready.js'
import { exactTopK } from './exact-top-k.js'
import type { LabelledQuery, LabelledSet } from './labelled-set.js'
import { lookupEmbedder } from './labelled-set.js'
import type { Role } from './result-table.js'

/** A search mode of the quality tables. */
export type SearchMode = 'vector' | 'text' | 'hybrid'

/** One system of the quality suite: how to load the labelled set into it and ask it. */
export interface QualitySystem {
  /** The row's name. */
  system: string
  /** Raw reference, engram, or an alternative. */
  role: Role
  /** The modes it is asked in (a row in each of those tables). */
  modes: readonly SearchMode[]
  /** Loads every record; the returned searcher answers the queries. */
  open(set: LabelledSet): Promise<OpenedSystem>
}

/** A loaded system. */
export interface OpenedSystem {
  /** How the records were stored, for the ingest column. */
  how: string
  /** Texts the system asked to embed that are not in the set (its own probes), when it embeds. */
  unknownTexts?: () => number
  /** The ids of the top 10 for the query, best first. */
  search(mode: SearchMode, query: LabelledQuery): Promise<string[]>
  close(): Promise<void>
}

/** Where the systems run: a scratch folder and the PostgreSQL the SQL rows use. */
export interface QualityContext {
  /** A scratch folder for SQLite files, removed after the suite. */
  folder: string
  /** The PostgreSQL with pgvector the SQL and Supabase rows use. */
  pgUrl: string
  /** A suffix no other run uses, for schema names. */
  runId: string
}

const TOP_K = 10
const COLLECTION = 'quality'
const BATCH = 500
const ALL_MODES: readonly SearchMode[] = ['vector', 'text', 'hybrid']

/** Loads the set into a store, in batches, with text and the topic as metadata. */
async function load(store: VectorStore, set: LabelledSet): Promise<void> {
  await store.createCollection(COLLECTION, { dimension: set.config.dimension })
  for (let i = 0; i < set.records.length; i += BATCH) {
    await store.upsert(
      COLLECTION,
      set.records.slice(i, i + BATCH).map((r) => ({
        id: r.id,
        vector: r.vector,
        text: r.text,
        metadata: { topic: r.topic },
      })),
    )
  }
}

/** A store's searcher: vector mode sends only the vector, text mode only the text, hybrid both. */
function storeSearcher(store: VectorStore, close: () => Promise<void>, how: string): OpenedSystem {
  return {
    how,
    search: async (mode, q) =>
      (
        await store.query(COLLECTION, {
          ...(mode === 'text' ? {} : { vector: q.vector }),
          ...(mode === 'vector' ? {} : { text: q.text }),
          mode,
          topK: TOP_K,
        })
      ).map((m) => m.id),
    close,
  }
}

/** Maps a memory layer's returned texts back to record ids (every record's text is unique). */
function idsByText(set: LabelledSet): (text: string) => string {
  const ids = new Map(set.records.map((r) => [r.text, r.id]))
  return (text) => ids.get(text) ?? `(not a record: ${text.slice(0, 30)})`
}

/**
 * An embedder for the memory layers: the set's vector for its texts, and for any other text
 * (a layer's set-up probe) a constant unit vector, counted so the table can say so.
 */
function setEmbedder(set: LabelledSet): { embed: (text: string) => Float32Array; unknown: () => number } {
  const lookup = lookupEmbedder(set)
  const constant = new Float32Array(set.config.dimension).fill(1 / Math.sqrt(set.config.dimension))
  let unknown = 0
  return {
    embed: (text) => {
      try {
        return lookup(text)
      } catch {
        unknown++
        return constant
      }
    },
    unknown: () => unknown,
  }
}

/**
 * Every system of the quality suite, in table order: the exact vector ranking as the reference,
 * engram's stores with their default settings (the remote ones through their real clients
 * against the in-process test servers), engram's Memory and @framers/agentos's Memory.
 */
export function qualitySystems(ctx: QualityContext): QualitySystem[] {
  return [
    {
      system: 'raw: exact cosine ranking over the vectors in memory',
      role: 'raw',
      modes: ['vector'],
      open: async (set) => {
        const search = exactTopK(set.records.map((r) => r.vector))
        return {
          how: 'one Float32Array',
          // exactTopK names record i `v<i>`; the set's ids are `q<i>`.
          search: async (_, q) => search(q.vector, TOP_K).map((id) => `q${id.slice(1)}`),
          close: async () => undefined,
        }
      },
    },
    {
      system: 'engram sqlite-vector (sqlite-native, hnsw sidecar, defaults)',
      role: 'engram',
      modes: ALL_MODES,
      open: async (set) => {
        const path = join(ctx.folder, 'quality.db')
        const adapter = createSqliteNativeAdapter({ filename: path })
        const store = createSqliteVectorStore({ adapter, ann: { path } })
        await load(store, set)
        await store.buildIndex(COLLECTION)
        return storeSearcher(
          store,
          async () => {
            await store.close()
            await adapter.close()
          },
          `upsert, ${BATCH} per call`,
        )
      },
    },
    {
      system: 'engram PgVectorStore (defaults)',
      role: 'engram',
      modes: ALL_MODES,
      open: async (set) => {
        const schema = `engram_bench_quality_${ctx.runId}`
        const adapter = createPostgresAdapter({ connectionString: ctx.pgUrl, max: 4 })
        const store = createPgVectorStore({ adapter, schema })
        const close = async () => {
          await store.close()
          await adapter.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
          await adapter.close()
        }
        try {
          await load(store, set)
          await analyzeSchema(adapter, schema)
        } catch (error) {
          await close()
          throw error
        }
        return storeSearcher(store, close, `upsert, ${BATCH} per call, then ANALYZE`)
      },
    },
    {
      system: 'engram QdrantVectorStore (@qdrant/js-client-rest → Qdrant test server)',
      role: 'engram',
      modes: ALL_MODES,
      open: async (set) => {
        const { createQdrantVectorStore } = await import('@engram/qdrant')
        const servers = await import('@engram/test-servers/qdrant')
        const server = await servers.startQdrantTestServer()
        const store = createQdrantVectorStore({ url: server.url, retryDelayMs: 1 })
        const close = async () => {
          await store.close()
          await server.close()
        }
        await load(store, set).catch(async (error: unknown) => {
          await close()
          throw error
        })
        return storeSearcher(store, close, `upsert, ${BATCH} per call`)
      },
    },
    {
      system: 'engram PineconeVectorStore (@pinecone-database/pinecone → Pinecone test server)',
      role: 'engram',
      modes: ALL_MODES,
      open: async (set) => {
        const { createPineconeVectorStore } = await import('@engram/pinecone')
        const servers = await import('@engram/test-servers/pinecone')
        const server = await servers.startPineconeTestServer({
          indexes: [{ name: 'quality', dimension: set.config.dimension, metric: 'cosine' }],
        })
        const store = createPineconeVectorStore({
          apiKey: server.apiKey,
          controllerHostUrl: server.url,
          indexName: 'quality',
          maxRetries: 0,
        })
        const close = async () => {
          await store.close()
          await server.close()
        }
        await load(store, set).catch(async (error: unknown) => {
          await close()
          throw error
        })
        return storeSearcher(store, close, `upsert, ${BATCH} per call`)
      },
    },
    {
      system: 'engram SupabaseVectorStore (supabase-js → PostgREST test server → PostgreSQL)',
      role: 'engram',
      modes: ALL_MODES,
      open: (set) => openSupabase(set, ctx),
    },
    {
      system: 'engram Memory.open (SQLite default: sqlite-vector + hnsw sidecar), recall',
      role: 'engram',
      modes: ALL_MODES,
      open: async (set) => {
        const embedder = setEmbedder(set)
        const memory = await Memory.open({
          path: join(ctx.folder, 'memory.db'),
          embed: async (texts) => texts.map(embedder.embed),
        })
        const idOf = idsByText(set)
        try {
          await memory.rememberMany(set.records.map((r) => ({ text: r.text })))
          await annReady(memory.vectors, memory.collection)
        } catch (error) {
          await memory.close()
          throw error
        }
        return {
          how: 'rememberMany',
          unknownTexts: embedder.unknown,
          search: async (mode, q) =>
            (await memory.recall(q.text, { topK: TOP_K, mode })).map((hit) => idOf(hit.trace.text)),
          close: () => memory.close(),
        }
      },
    },
    {
      system: '@framers/agentos 0.9.164 Memory.createSqlite, recall (FTS5 + its hnsw sidecar, RRF)',
      role: 'alternative',
      modes: ['hybrid'],
      open: async (set) => {
        const embedder = setEmbedder(set)
        const { Memory: AgentOsMemory } = await import('@framers/agentos/memory')
        const memory = await AgentOsMemory.createSqlite(join(ctx.folder, 'agentos.sqlite'), {
          embed: async (text: string) => agentosSafe(embedder.embed(text)),
          embeddings: { provider: 'local', dimensions: set.config.dimension },
        })
        const idOf = idsByText(set)
        try {
          // It has no batch API; remember() one at a time is its documented path.
          for (const r of set.records) await memory.remember(r.text)
        } catch (error) {
          await memory.close()
          throw error
        }
        return {
          how: 'remember, one at a time (no batch API)',
          unknownTexts: embedder.unknown,
          search: async (_, q) =>
            (await memory.recall(q.text, { limit: TOP_K })).map((hit) => idOf(hit.trace.content)),
          close: () => memory.close(),
        }
      },
    },
  ]
}

/**
 * A vector as agentos can store it. It reads a stored embedding whose first byte is `[` (0x5b)
 * as its legacy JSON format and fails to parse it, which hits about one float32 vector in 256;
 * such a vector's first component moves by one unit in the last place (0x5b → 0x5c in its
 * lowest byte), far below anything that changes a ranking.
 */
function agentosSafe(vector: Float32Array): number[] {
  const copy = Float32Array.from(vector)
  const bytes = new Uint8Array(copy.buffer)
  if (bytes[0] === 0x5b) bytes[0] = 0x5c
  return Array.from(copy)
}

async function openSupabase(set: LabelledSet, ctx: QualityContext): Promise<OpenedSystem> {
  const supabase = await import('@engram/supabase')
  const servers = await import('@engram/test-servers/postgrest')
  const schema = `engram_bench_qapi_${ctx.runId}`
  const dataSchema = `engram_bench_qdata_${ctx.runId}`
  await servers.installSupabasePlatform(ctx.pgUrl)
  const db = supabase.createSupabaseAdapter({ connectionString: ctx.pgUrl, tls: false })
  const dropSchemas = () =>
    db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`)
  let server: { url: string; serviceRoleKey: string; close(): Promise<void> } | undefined
  let store: VectorStore | undefined
  const close = async () => {
    await store?.close().catch(() => undefined)
    await server?.close().catch(() => undefined)
    await dropSchemas().catch(() => undefined)
    await db.close()
  }
  try {
    await supabase.applySupabaseMigration(db, { schema, dataSchema })
    server = await servers.startPostgrestServer({ connectionString: ctx.pgUrl, schemas: [schema] })
    store = supabase.createSupabaseVectorStore({ url: server.url, key: server.serviceRoleKey, schema })
    await load(store, set)
    await analyzeSchema(db, dataSchema)
  } catch (error) {
    await close()
    throw error
  }
  return storeSearcher(store, close, `upsert, ${BATCH} per call, then ANALYZE`)
}

/**
 * Fresh planner statistics for a schema's tables after a bulk load, as an application would have
 * them (or autovacuum would give them); without them PostgreSQL can skip the HNSW index.
 */
async function analyzeSchema(adapter: StorageAdapter, schema: string): Promise<void> {
  const tables = await adapter.all<{ name: string }>(
    'SELECT tablename AS name FROM pg_tables WHERE schemaname = ?',
    [schema],
  )
  for (const { name } of tables) await adapter.exec(`ANALYZE "${schema}"."${name}"`)
}
