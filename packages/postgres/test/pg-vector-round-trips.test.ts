import type { Row, RunResult, SqlParams, StorageAdapter, VectorRecord, VectorStore } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter, type PgVectorStore } from '../src/index.js'
import { admin, createRestrictedRole, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

/**
 * A real adapter that also writes down every statement it is given: `BEGIN…COMMIT` for a
 * transaction (whose own statements follow, indented), then one line per call.
 */
function recording(inner: StorageAdapter, log: string[], depth = 0): StorageAdapter {
  const note = <R>(sql: string, call: () => R): R => {
    log.push(`${'  '.repeat(depth)}${sql.replace(/\s+/g, ' ').trim()}`)
    return call()
  }
  return {
    kind: inner.kind,
    dialect: inner.dialect,
    capabilities: inner.capabilities,
    exec: (sql: string) => note(sql, () => inner.exec(sql)),
    run: (sql: string, params?: SqlParams): Promise<RunResult> => note(sql, () => inner.run(sql, params)),
    get: <T = Row>(sql: string, params?: SqlParams) => note(sql, () => inner.get<T>(sql, params)),
    all: <T = Row>(sql: string, params?: SqlParams) => note(sql, () => inner.all<T>(sql, params)),
    iterate: <T = Row>(sql: string, params?: SqlParams) => note(sql, () => inner.iterate<T>(sql, params)),
    transaction: <T>(fn: (tx: StorageAdapter) => Promise<T>) => {
      const verbs = depth === 0 ? 'BEGIN…COMMIT' : 'SAVEPOINT…RELEASE'
      return note(verbs, () => inner.transaction((tx) => fn(recording(tx, log, depth + 1))))
    },
    close: () => inner.close(),
  }
}

/** Seeded random vectors, so HNSW results depend on its search settings. */
function randomRecords(count: number, dimension: number, seed: number): VectorRecord[] {
  let state = seed
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
    return state / 2_147_483_648
  }
  return Array.from({ length: count }, (_, i) => ({
    id: `r${String(i).padStart(4, '0')}`,
    vector: Array.from({ length: dimension }, () => random() - 0.5),
    // `n` makes every metadata value distinct, so the planner's statistics cannot tell how rare `rare` is.
    metadata: { rare: i % 100 === 7, n: i },
    text: `note ${i % 10} about ${i % 3 === 0 ? 'kiwi' : 'plum'}`,
  }))
}

const schema = freshSchema('engram_vrt')
let base: StorageAdapter

beforeAll(async () => {
  await requireDatabase()
  base = createPostgresAdapter({ connectionString: PG_URL })
})

afterAll(async () => {
  await base?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

describe('PgVectorStore round trips', () => {
  const log: string[] = []
  let store: VectorStore
  const records = randomRecords(300, 8, 3)
  const vector = records[5]?.vector as number[]

  beforeAll(async () => {
    store = createPgVectorStore({ adapter: recording(base, log), schema, exactBelow: 100 })
    await store.createCollection('trips', { dimension: 8 })
    await store.upsert('trips', records)
    // The first HNSW search builds the index; later ones are what the counts below are about.
    await store.query('trips', { vector, topK: 3 })
  })

  afterAll(async () => {
    await store.dropCollection('trips')
    await store.close()
  })

  async function statements(call: () => Promise<unknown>): Promise<string[]> {
    log.length = 0
    await call()
    return [...log]
  }

  it('sends one statement, outside any transaction, for an HNSW vector search', async () => {
    const sent = await statements(() => store.query('trips', { vector, topK: 10 }))
    expect(sent).toHaveLength(1)
    expect(sent[0]).toContain("set_config('hnsw.ef_search'")
    expect(sent[0]).toContain('ORDER BY t.embedding <=>')
    const filtered = await statements(() => store.query('trips', { vector, topK: 3, filter: { rare: true } }))
    expect(filtered).toHaveLength(1)
  })

  it('sends one statement for get, upsert, count and delete on a known collection', async () => {
    for (const call of [
      () => store.get('trips', ['r0001', 'r0002']),
      () => store.upsert('trips', [records[1] as VectorRecord]),
      () => store.count('trips', { rare: true }),
      () => store.delete('trips', { ids: ['missing'] }),
    ]) {
      const sent = await statements(call)
      expect(sent).toHaveLength(1)
      expect(sent[0]).not.toContain('engram_collections')
    }
  })

  it('sends two statements for text and hybrid searches: the query words, then the search', async () => {
    expect(await statements(() => store.query('trips', { text: 'kiwi note', topK: 5 }))).toHaveLength(2)
    expect(await statements(() => store.query('trips', { vector, text: 'kiwi', topK: 5 }))).toHaveLength(2)
  })

  it('leaves a pooled connection with the server defaults for the HNSW settings', async () => {
    const single = createPostgresAdapter({ connectionString: PG_URL, max: 1 })
    const own = createPgVectorStore({ adapter: single, schema, exactBelow: 100, efSearch: 200 })
    try {
      expect(await own.query('trips', { vector, topK: 10, filter: { rare: true } })).toHaveLength(3)
      const after = await single.get(
        `SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS scan`,
      )
      expect(after).toEqual({ ef: '40', scan: 'off' })
    } finally {
      await own.close()
      await single.close()
    }
  })
})

describe('PgVectorStore HNSW settings reach the index scan', () => {
  const dimension = 24
  const records = randomRecords(3000, dimension, 17)
  const queries = randomRecords(25, dimension, 99).map((r) => r.vector as number[])
  let table: string
  let low: PgVectorStore
  // On 3,000 rows the planner prefers a full scan and a sort for a selective filter; without sorts
  // every search here has to read the HNSW index, which is what these checks are about.
  let indexOnly: StorageAdapter

  beforeAll(async () => {
    const url = new URL(PG_URL)
    url.searchParams.set('options', '-c enable_sort=off')
    indexOnly = createPostgresAdapter({ connectionString: url.toString() })
    // efSearch 1 means ef_search = topK: a narrow search whose results differ from pgvector's default 40.
    low = createPgVectorStore({ adapter: indexOnly, schema, exactBelow: 1, efSearch: 1 })
    await low.createCollection('settings', { dimension })
    await low.upsert('settings', records)
    await low.buildIndex('settings')
    const row = await base.get<{ id: number }>(
      `SELECT id FROM "${schema}".engram_collections WHERE name = 'settings'`,
    )
    table = `"${schema}"."engram_v${Number(row?.id)}"`
    await base.exec(`ANALYZE ${table}`)
  })

  afterAll(async () => {
    await low.dropCollection('settings')
    await low.close()
    await indexOnly.close()
  })

  /** The ids raw pgvector SQL finds with `SET LOCAL hnsw.ef_search = ef`, sorted. */
  async function raw(query: number[], ef: number): Promise<string[]> {
    const rows = await indexOnly.transaction(async (tx) => {
      await tx.exec(`SET LOCAL hnsw.ef_search = ${ef}; SET LOCAL hnsw.iterative_scan = relaxed_order`)
      return tx.all<{ id: string }>(
        `SELECT id FROM ${table} WHERE tenant_id = '' ORDER BY embedding <=> ?::vector LIMIT 10`,
        [`[${query.join(',')}]`],
      )
    })
    return rows.map((r) => r.id).sort()
  }

  it('searches with ef_search = max(efSearch, topK), as raw SQL with SET LOCAL does', async () => {
    let differsFromDefault = 0
    for (const query of queries) {
      const ids = (await low.query('settings', { vector: query, topK: 10 })).map((m) => m.id).sort()
      expect(ids).toEqual(await raw(query, 10))
      if (JSON.stringify(ids) !== JSON.stringify(await raw(query, 40))) differsFromDefault++
    }
    // The check above can only pass by chance if ef_search 10 and 40 found the same neighbours everywhere.
    expect(differsFromDefault).toBeGreaterThan(0)
  })

  it('keeps walking the graph until a filter matching 1% of the records has topK rows', async () => {
    // `$ne` cannot use the metadata index, so the planner filters the HNSW scan's rows.
    const filter = { rare: { $ne: false } }
    const matches = await low.query('settings', { vector: queries[0] as number[], topK: 10, filter })
    expect(matches).toHaveLength(10)
    const plain = await indexOnly.transaction(async (tx) => {
      await tx.exec('SET LOCAL hnsw.ef_search = 10')
      return tx.all(
        `SELECT id FROM ${table} WHERE tenant_id = '' AND (metadata IS NULL OR NOT metadata @> '{"rare": false}')
         ORDER BY embedding <=> ?::vector LIMIT 10`,
        [`[${(queries[0] as number[]).join(',')}]`],
      )
    })
    // Without the iterative scan, the same search stops early: the setting is what fills topK.
    expect(plain.length).toBeLessThan(10)
  })
})

describe('PgVectorStore round trips under row-level security', () => {
  it('runs a vector search as one transaction of two statements: tenant and lookup, then the search', async () => {
    const login = await createRestrictedRole('engram_vrt')
    const db = createPostgresAdapter({ connectionString: login.url })
    const log: string[] = []
    const store = createPgVectorStore({
      adapter: recording(db, log),
      schema: login.schema,
      tenant: 'A',
      rowLevelSecurity: true,
      exactBelow: 10,
    })
    try {
      const records = randomRecords(40, 4, 5)
      await store.createCollection('secure', { dimension: 4 })
      await store.upsert('secure', records)
      await store.query('secure', { vector: records[0]?.vector as number[], topK: 3 })
      log.length = 0
      const [best] = await store.query('secure', { vector: records[0]?.vector as number[], topK: 3 })
      expect(best?.id).toBe(records[0]?.id)
      expect(log).toHaveLength(3)
      expect(log[0]).toBe('BEGIN…COMMIT')
      expect(log[1]).toContain("set_config('app.tenant_id'")
      expect(log[2]).toContain("set_config('hnsw.ef_search'")
    } finally {
      await store.close()
      await db.close()
      await login.drop()
    }
  })
})
