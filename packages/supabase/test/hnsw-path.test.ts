import { describeVectorStore } from '@engram/conformance'
import { similarity, type VectorStore } from '@engram/core'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSupabaseVectorStore } from '../src/index.js'
import { openTarget, PG_URL, type SupabaseTarget } from './supabase-test-env.js'

// exactBelow: 0 sends every vector search through the collection's HNSW index, so the whole
// suite runs on the approximate path too (ranking checks then need recall, scores stay exact).
let target: SupabaseTarget

beforeAll(async () => {
  target = await openTarget()
})

afterAll(async () => {
  await target?.close()
})

describeVectorStore(
  'supabase on the HNSW path',
  async () =>
    createSupabaseVectorStore({ client: target.serviceClient(), schema: target.schema, exactBelow: 0 }),
  { approximate: true, groups: { lifecycle: false, edgeCases: false, inputRules: false } },
)

function seeded(n: number, seed: number): Float32Array[] {
  let state = seed
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 31 - 0.5
  }
  return Array.from({ length: n }, () => Float32Array.from({ length: 16 }, next))
}

describe('the HNSW path', () => {
  let store: VectorStore
  const name = `hnsw_${process.pid}`

  beforeAll(async () => {
    store = createSupabaseVectorStore({
      client: target.serviceClient(),
      schema: target.schema,
      exactBelow: 100,
      efSearch: 40,
    })
    await store.createCollection(name, { dimension: 16 })
    const vectors = seeded(1_500, 3)
    await store.upsert(
      name,
      vectors.map((vector, i) => ({ id: `r${i}`, vector, metadata: { rare: i % 50 === 0 } })),
    )
  })

  afterAll(async () => {
    await store.dropCollection(name)
    await store.close()
  })

  it('is taken at exactBelow visible records, on the index the load built', async (ctx) => {
    ctx.skip(target.server === undefined, 'reads index statistics of the local database')
    // Statistics are flushed at the end of a backend's transaction, so run the function here as
    // the service role (as PostgREST would) and force the flush, rather than wait for the server's.
    // On 1,500 records the planner may rightly prefer a scan; seqscan off shows the ANN query
    // can take the index, and that the exact query never does.
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    const query = async (exactBelow: number) => {
      await client.query('BEGIN')
      await client.query(
        `SELECT set_config('role', 'service_role', true), set_config('enable_seqscan', 'off', true)`,
      )
      await client.query(
        `SELECT ${target.schema}.engram_query(collection := $1, query_vector := $2, exact_below := $3)`,
        [name, JSON.stringify(Array.from(seeded(1, 9)[0] as Float32Array)), exactBelow],
      )
      await client.query('COMMIT')
      await client.query('SELECT pg_stat_force_next_flush()')
    }
    const scans = async () => {
      await client.query('SELECT pg_stat_clear_snapshot()')
      const { rows } = await client.query<{ scans: string }>(
        `SELECT coalesce(sum(s.idx_scan), 0) AS scans FROM pg_stat_user_indexes s
         JOIN pg_class c ON c.oid = s.indexrelid JOIN pg_am a ON a.oid = c.relam
         WHERE s.schemaname = $1 AND a.amname = 'hnsw'`,
        [target.dataSchema],
      )
      return Number(rows[0]?.scans)
    }
    try {
      const start = await scans()
      await query(10_000)
      const exact = await scans()
      expect(exact).toBe(start)
      await query(100)
      expect(await scans()).toBe(exact + 1)
    } finally {
      await client.end()
    }
  })

  it("is built by the service role's load, never by a user's, and buildIndex is the service role's alone", async (ctx) => {
    ctx.skip(
      target.server === undefined || target.users === undefined,
      'reads the catalog of the local database',
    )
    const indexes = async (collection: string) => {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      try {
        const { rows } = await client.query<{ indexdef: string }>(
          `SELECT i.indexdef FROM pg_indexes i JOIN ${target.dataSchema}.collections c ON i.tablename = 'records_' || c.id
           WHERE i.schemaname = $1 AND c.name = $2 AND i.indexdef LIKE '%hnsw%'`,
          [target.dataSchema, collection],
        )
        return rows.length
      } finally {
        await client.end()
      }
    }
    expect(await indexes(name)).toBe(1)
    const other = `${name}_users`
    const service = createSupabaseVectorStore({
      client: target.serviceClient(),
      schema: target.schema,
      exactBelow: 10,
    })
    const [user] = target.users as NonNullable<SupabaseTarget['users']>
    const mine = createSupabaseVectorStore({
      client: target.userClient(user),
      schema: target.schema,
      exactBelow: 10,
    })
    try {
      await service.createCollection(other, { dimension: 16 })
      await mine.upsert(
        other,
        seeded(50, 5).map((vector, i) => ({ id: `u${i}`, vector })),
      )
      expect(await indexes(other)).toBe(0)
      await expect(mine.buildIndex(other)).rejects.toMatchObject({ code: 'UNSUPPORTED' })
      await service.buildIndex(other)
      await service.buildIndex(other)
      expect(await indexes(other)).toBe(1)
    } finally {
      await service.dropCollection(other)
      await service.close()
      await mine.close()
    }
  })

  it('finds at least 9 of the exact top 10 with exact scores', async () => {
    const vectors = seeded(1_500, 3)
    for (const query of seeded(5, 17)) {
      const exact = vectors
        .map((vector, i) => ({ id: `r${i}`, score: similarity('cosine', query, vector) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)
      const matches = await store.query(name, { vector: query, topK: 10 })
      const found = matches.filter((m) => exact.some((e) => e.id === m.id)).length
      expect(found).toBeGreaterThanOrEqual(9)
      for (const match of matches) {
        const i = Number(match.id.slice(1))
        expect(match.score).toBeCloseTo(similarity('cosine', query, vectors[i] as Float32Array), 4)
      }
    }
  })

  it('fills topK under a filter that keeps 2% of the records (iterative scan)', async () => {
    const matches = await store.query(name, {
      vector: seeded(1, 23)[0] as Float32Array,
      topK: 25,
      filter: { rare: true },
    })
    expect(matches).toHaveLength(25)
    for (const match of matches) expect(Number(match.id.slice(1)) % 50).toBe(0)
  })
})
