import { type StorageAdapter, similarity, type VectorRecord } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { admin, createRestrictedRole, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

const schema = freshSchema('engram_vdi')
let adapter: StorageAdapter

beforeAll(async () => {
  await requireDatabase()
  adapter = createPostgresAdapter({ connectionString: PG_URL })
})

afterAll(async () => {
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

/** The HNSW index definitions on a collection's table. */
async function hnswIndexes(db: StorageAdapter, inSchema: string, collection: string): Promise<string[]> {
  const row = await db.get<{ id: number }>(`SELECT id FROM "${inSchema}".engram_collections WHERE name = ?`, [
    collection,
  ])
  const rows = await db.all<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE schemaname = ? AND tablename = ? AND indexdef LIKE '%USING hnsw%'`,
    [inSchema, `engram_v${Number(row?.id)}`],
  )
  return rows.map((r) => r.indexdef)
}

/** Seeded points around 10 centres, so nearest neighbours are meaningful. */
function clustered(count: number, dimension: number): VectorRecord[] {
  let seed = 11
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  const centres = Array.from({ length: 10 }, () => Array.from({ length: dimension }, () => random() * 2 - 1))
  return Array.from({ length: count }, (_, i) => ({
    id: `r${String(i).padStart(4, '0')}`,
    vector: (centres[i % centres.length] as number[]).map((x) => x + (random() - 0.5) * 0.4),
    metadata: { even: i % 2 === 0 },
  }))
}

/**
 * A second session that holds a collection's build lock (the advisory lock the HNSW build takes)
 * until `release()`, so a build of that collection waits. `close()` lets go whatever failed.
 */
function buildLockHolder(): {
  hold(collection: string): Promise<void>
  release(): Promise<void>
  close(): Promise<void>
} {
  const holder = createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  let letGo: () => void = () => undefined
  const released = new Promise<void>((resolve) => (letGo = resolve))
  let holding: Promise<void> = Promise.resolve()
  const release = async () => {
    letGo()
    await holding
  }
  return {
    async hold(collection) {
      const row = await adapter.get<{ id: number }>(
        `SELECT id FROM "${schema}".engram_collections WHERE name = ?`,
        [collection],
      )
      const key = `"${schema}"."engram_v${Number(row?.id)}".hnsw`
      let locked: () => void = () => undefined
      const lockTaken = new Promise<void>((resolve) => (locked = resolve))
      holding = holder.transaction(async (tx) => {
        await tx.get('SELECT pg_advisory_xact_lock(hashtext(?)) AS locked', [key])
        locked()
        await released
      })
      await lockTaken
    },
    release,
    async close() {
      await release()
      await holder.close()
    },
  }
}

describe('deferred HNSW index', () => {
  const dimension = 16
  const records = clustered(1200, dimension)

  it('ingests without an index and builds it on the first search past exactBelow', async () => {
    const store = createPgVectorStore({ adapter, schema, exactBelow: 1000 })
    try {
      await store.createCollection('lazy', { dimension })
      await store.upsert('lazy', records.slice(0, 500))
      await store.query('lazy', { vector: records[0]?.vector as number[], topK: 5 })
      expect(await hnswIndexes(adapter, schema, 'lazy')).toEqual([]) // exact search below exactBelow
      await store.upsert('lazy', records.slice(500))
      expect(await hnswIndexes(adapter, schema, 'lazy')).toEqual([])

      const query = Float32Array.from(records[7]?.vector as number[])
      const matches = await store.query('lazy', { vector: query, topK: 10 })
      const [index] = await hnswIndexes(adapter, schema, 'lazy')
      expect(index).toContain('vector_cosine_ops')
      expect(index).toContain("m='16'")
      expect(index).toContain("ef_construction='128'")

      const exact = records
        .map((r) => ({ id: r.id, score: similarity('cosine', query, Float32Array.from(r.vector)) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)
      expect(matches).toHaveLength(10)
      for (const m of matches) {
        const want = exact.find((e) => e.id === m.id)
        if (want !== undefined) expect(m.score).toBeCloseTo(want.score, 4)
      }
      const wanted = new Set(exact.map((e) => e.id))
      expect(matches.filter((m) => wanted.has(m.id)).length).toBeGreaterThanOrEqual(9)

      // Inserts after the build maintain the index: a new record is found at once.
      const fresh = { id: 'fresh', vector: records[3]?.vector.map((x) => x + 1e-3) as number[] }
      await store.upsert('lazy', [fresh])
      const [best] = await store.query('lazy', { vector: fresh.vector, topK: 1 })
      expect(best?.id).toBe('fresh')
    } finally {
      await store.dropCollection('lazy')
      await store.close()
    }
  })

  it("buildIndex builds the index once with the collection's options and is idempotent", async () => {
    const store = createPgVectorStore({ adapter, schema, m: 8, efConstruction: 32 })
    const other = createPgVectorStore({ adapter, schema })
    try {
      await store.createCollection('explicit', { dimension, metric: 'dot' })
      await store.upsert('explicit', records.slice(0, 50))
      // A store with other HNSW options builds with the collection's (m 8, ef_construction 32).
      await other.buildIndex('explicit')
      await other.buildIndex('explicit')
      await store.buildIndex('explicit')
      const indexes = await hnswIndexes(adapter, schema, 'explicit')
      expect(indexes).toHaveLength(1)
      expect(indexes[0]).toContain('vector_ip_ops')
      expect(indexes[0]).toContain("m='8'")
      expect(indexes[0]).toContain("ef_construction='32'")
    } finally {
      await store.dropCollection('explicit')
      await store.close()
      await other.close()
    }
  })

  it('buildIndex on an unknown collection fails with NOT_FOUND', async () => {
    const store = createPgVectorStore({ adapter, schema })
    try {
      await expect(store.buildIndex('missing')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    } finally {
      await store.close()
    }
  })

  it('two stores racing to build the index do not fail, and one index results', async () => {
    const second = createPostgresAdapter({ connectionString: PG_URL })
    const a = createPgVectorStore({ adapter, schema, exactBelow: 100 })
    const b = createPgVectorStore({ adapter: second, schema, exactBelow: 100 })
    const c = createPgVectorStore({ adapter: second, schema, exactBelow: 100 })
    try {
      await a.createCollection('race', { dimension })
      await a.upsert('race', records)
      const vector = records[1]?.vector as number[]
      const results = await Promise.all([
        a.buildIndex('race'),
        b.buildIndex('race'),
        c.query('race', { vector, topK: 3 }),
        a.query('race', { vector, topK: 3 }),
      ])
      expect(results[2]?.[0]?.id).toBe(records[1]?.id)
      expect(await hnswIndexes(adapter, schema, 'race')).toHaveLength(1)
    } finally {
      await a.dropCollection('race')
      for (const store of [a, b, c]) await store.close()
      await second.close()
    }
  })

  it('with buildIndexInBackground, the first large search answers exactly while the build runs', async () => {
    const store = createPgVectorStore({ adapter, schema, exactBelow: 100, buildIndexInBackground: true })
    // A second session holds the build's advisory lock, so the build cannot finish until it lets go.
    const lock = buildLockHolder()
    try {
      await store.createCollection('background', { dimension })
      await store.upsert('background', records)
      await lock.hold('background')

      const query = Float32Array.from(records[42]?.vector as number[])
      const exact = records
        .map((r) => ({ id: r.id, score: similarity('cosine', query, Float32Array.from(r.vector)) }))
        .sort((a, b) => b.score - a.score)
      // The build waits for the lock; the searches do not wait for the build, and are exact: each
      // match scores what core's similarity() gives it, none below the exact tenth best.
      const tenth = (exact[9] as { score: number }).score
      for (let i = 0; i < 3; i++) {
        const matches = await store.query('background', { vector: query, topK: 10 })
        expect(matches).toHaveLength(10)
        for (const match of matches) {
          const stored = records.find((r) => r.id === match.id) as VectorRecord
          // pgvector sums in single precision.
          expect(match.score).toBeCloseTo(similarity('cosine', query, Float32Array.from(stored.vector)), 5)
          expect(match.score).toBeGreaterThan(tenth - 1e-6)
        }
      }
      expect(await hnswIndexes(adapter, schema, 'background')).toEqual([])

      await lock.release()
      await store.buildIndex('background') // waits for the running build
      expect(await hnswIndexes(adapter, schema, 'background')).toHaveLength(1)
      const [best] = await store.query('background', { vector: query, topK: 1 })
      expect(best?.id).toBe(records[42]?.id)
    } finally {
      // Let go of the lock first, whatever failed, so the build and the drop can finish.
      await lock.close()
      await store.dropCollection('background')
      await store.close()
    }
  })

  it('with buildIndexInBackground, a failed build is reported by indexStatus and not rerun by the next search', async () => {
    const store = createPgVectorStore({ adapter, schema, exactBelow: 100, buildIndexInBackground: true })
    const lock = buildLockHolder()
    try {
      await store.createCollection('failing', { dimension })
      await store.upsert('failing', records)
      expect(await store.indexStatus('failing')).toEqual({ indexable: true, present: false, building: false })
      await lock.hold('failing')

      const query = records[42]?.vector as number[]
      await store.query('failing', { vector: query, topK: 10 })
      expect(await store.indexStatus('failing')).toMatchObject({ present: false, building: true })
      // The build waits for the lock; cancel it there, as an operator cancelling a long build would.
      const waiting = async () =>
        adapter.get<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%maintenance_work_mem%'`,
        )
      let build = await waiting()
      for (let i = 0; build === undefined && i < 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25))
        build = await waiting()
      }
      expect(build, 'the build never waited for the lock').toBeDefined()
      await adapter.get('SELECT pg_cancel_backend(?) AS cancelled', [build?.pid as number])
      let status = await store.indexStatus('failing')
      for (let i = 0; status.building && i < 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25))
        status = await store.indexStatus('failing')
      }
      expect(status).toMatchObject({ present: false, building: false })
      expect(status.error).toMatch(/cancel/i)
      expect(status.failedAt).toBeInstanceOf(Date)

      // The next searches are exact and correct, and do not start the failed build over.
      const [best] = await store.query('failing', { vector: query, topK: 1 })
      expect(best?.id).toBe(records[42]?.id)
      expect(await store.indexStatus('failing')).toMatchObject({ building: false, error: status.error })

      await lock.release()
      await store.buildIndex('failing') // tries at once, and clears the failure
      expect(await store.indexStatus('failing')).toEqual({ indexable: true, present: true, building: false })
      expect(await hnswIndexes(adapter, schema, 'failing')).toHaveLength(1)
    } finally {
      await lock.close()
      await store.dropCollection('failing')
      await store.close()
    }
  })

  it('with buildIndexInBackground, close() waits for a running build', async () => {
    const store = createPgVectorStore({ adapter, schema, exactBelow: 100, buildIndexInBackground: true })
    try {
      await store.createCollection('closing', { dimension })
      await store.upsert('closing', records)
      await store.query('closing', { vector: records[0]?.vector as number[], topK: 3 })
    } finally {
      await store.close()
    }
    // Nothing of the store runs after close(): the build it started has finished.
    expect(await hnswIndexes(adapter, schema, 'closing')).toHaveLength(1)
    const cleanup = createPgVectorStore({ adapter, schema })
    await cleanup.dropCollection('closing')
    await cleanup.close()
  })

  it('does nothing above 4,000 dimensions, where search is always exact', async () => {
    const store = createPgVectorStore({ adapter, schema, exactBelow: 1 })
    try {
      await store.createCollection('huge', { dimension: 4100 })
      const vector = Array.from({ length: 4100 }, (_, j) => Math.cos(j))
      await store.upsert('huge', [{ id: 'h', vector }])
      await store.buildIndex('huge')
      expect(await store.indexStatus('huge')).toEqual({ indexable: false, present: false, building: false })
      const [best] = await store.query('huge', { vector, topK: 1 })
      expect(best?.id).toBe('h')
      expect(await hnswIndexes(adapter, schema, 'huge')).toEqual([])
    } finally {
      await store.dropCollection('huge')
      await store.close()
    }
  })

  it('rejects an indexBuildMemory that is not a size', () => {
    expect(() => createPgVectorStore({ adapter, indexBuildMemory: "1GB'; DROP TABLE x" })).toThrow(
      /indexBuildMemory/,
    )
  })
})

describe('deferred HNSW index under row-level security', () => {
  it('a non-superuser table owner builds it, on the first large search and with buildIndex', async () => {
    const login = await createRestrictedRole('engram_vdi')
    const db = createPostgresAdapter({ connectionString: login.url })
    const options = { adapter: db, schema: login.schema, rowLevelSecurity: true, exactBelow: 20 }
    const storeA = createPgVectorStore({ ...options, tenant: 'A' })
    const storeB = createPgVectorStore({ ...options, tenant: 'B' })
    try {
      const small = clustered(30, 4)
      await storeA.createCollection('secure', { dimension: 4 })
      await storeA.createCollection('secure_explicit', { dimension: 4 })
      await storeA.upsert('secure', small)
      await storeB.upsert('secure', [{ id: 'b-only', vector: small[0]?.vector as number[] }])
      expect(await hnswIndexes(db, login.schema, 'secure')).toEqual([])

      const matches = await storeA.query('secure', { vector: small[0]?.vector as number[], topK: 5 })
      expect(matches[0]?.id).toBe(small[0]?.id)
      expect(matches.map((m) => m.id)).not.toContain('b-only')
      expect(await hnswIndexes(db, login.schema, 'secure')).toHaveLength(1)
      // The tenant below exactBelow still searches exactly and sees only its own record.
      expect(
        (await storeB.query('secure', { vector: small[0]?.vector as number[], topK: 5 })).map((m) => m.id),
      ).toEqual(['b-only'])

      await storeB.buildIndex('secure_explicit')
      expect(await hnswIndexes(db, login.schema, 'secure_explicit')).toHaveLength(1)
    } finally {
      await storeA.close()
      await storeB.close()
      await db.close()
      await login.drop()
    }
  })
})

describe('deferred HNSW index for a role that does not own the table', () => {
  it('searches without the index, with correct results, until the owner builds it', async () => {
    const ownerLogin = await createRestrictedRole('engram_vdi_owner')
    const readerLogin = await createRestrictedRole('engram_vdi_reader')
    const ownerDb = createPostgresAdapter({ connectionString: ownerLogin.url })
    const readerDb = createPostgresAdapter({ connectionString: readerLogin.url })
    const owner = createPgVectorStore({ adapter: ownerDb, schema: ownerLogin.schema })
    const reader = createPgVectorStore({ adapter: readerDb, schema: ownerLogin.schema, exactBelow: 1 })
    try {
      const rows = clustered(40, 4)
      await owner.createCollection('owned', { dimension: 4 })
      await owner.upsert('owned', rows)
      await admin(`GRANT USAGE, CREATE ON SCHEMA ${ownerLogin.schema} TO ${readerLogin.role};
        GRANT SELECT ON ALL TABLES IN SCHEMA ${ownerLogin.schema} TO ${readerLogin.role}`)

      const [best] = await reader.query('owned', { vector: rows[2]?.vector as number[], topK: 1 })
      expect(best?.id).toBe(rows[2]?.id)
      expect(await hnswIndexes(ownerDb, ownerLogin.schema, 'owned')).toEqual([])
      await expect(reader.buildIndex('owned')).rejects.toThrow()

      await owner.buildIndex('owned')
      expect(await hnswIndexes(ownerDb, ownerLogin.schema, 'owned')).toHaveLength(1)
      const [again] = await reader.query('owned', { vector: rows[2]?.vector as number[], topK: 1 })
      expect(again?.id).toBe(rows[2]?.id)
    } finally {
      await owner.close()
      await reader.close()
      await ownerDb.close()
      await readerDb.close()
      await readerLogin.drop()
      await ownerLogin.drop()
    }
  })
})
