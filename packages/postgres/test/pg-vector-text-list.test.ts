import { reciprocalRankFusion, type StorageAdapter, type VectorRecord } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter, type PgVectorStore } from '../src/index.js'
import { admin, createRestrictedRole, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

// Text ranking by tiers must return exactly what ranking every match returns. The records draw
// words with replacement from a skewed vocabulary, so many repeat a word, scores tie a lot, and
// common words match most records: every tier, the id-order arm and the repeaters all matter.
const VOCABULARY = Array.from({ length: 24 }, (_, i) => `w${String.fromCharCode(97 + i)}`)

function seeded(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
    return state / 2_147_483_648
  }
}

/** A word, the first ones far more often than the last. */
const word = (random: () => number) => VOCABULARY[Math.floor(VOCABULARY.length * random() ** 2.5)] as string

function records(count: number): VectorRecord[] {
  const random = seeded(5)
  return Array.from({ length: count }, (_, i) => ({
    id: `d${String((i * 7919) % count).padStart(5, '0')}`,
    vector: [random(), random(), 1],
    metadata: { half: i % 2 === 0 },
    text: Array.from({ length: 2 + Math.floor(random() * 9) }, () => word(random)).join(' '),
  }))
}

function queries(count: number): string[] {
  const random = seeded(23)
  return Array.from({ length: count }, (_, i) => {
    const words = Array.from({ length: 1 + (i % 8) }, () => word(random))
    if (i % 5 === 0) words.push('absent')
    return words.join(' ')
  })
}

const schema = freshSchema('engram_vtl')
let adapter: StorageAdapter
let store: PgVectorStore
let table: string

beforeAll(async () => {
  await requireDatabase()
  adapter = createPostgresAdapter({ connectionString: PG_URL })
  store = createPgVectorStore({ adapter, schema })
  await store.createCollection('words', { dimension: 3 })
  await store.upsert('words', records(3000))
  const row = await adapter.get<{ id: number }>(
    `SELECT id FROM "${schema}".engram_collections WHERE name = 'words'`,
  )
  table = `"${schema}"."engram_v${Number(row?.id)}"`
  await adapter.exec(`ANALYZE ${table}`)
})

afterAll(async () => {
  await store?.close()
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

/** Every match ranked by `ts_rank_cd` against the OR of the query's words, as the store ranked before tiers. */
async function rankEveryMatch(
  db: StorageAdapter,
  text: string,
  depth: number,
  onlyHalf = false,
): Promise<Array<[string, number]>> {
  const rows = await db.all<{ id: string; score: number }>(
    `SELECT t.id, ts_rank_cd(t.tsv, q.query)::float8 AS score
     FROM ${table} t, (SELECT replace(plainto_tsquery('simple'::regconfig, ?)::text, ' & ', ' | ')::tsquery AS query) q
     WHERE t.tenant_id = '' AND t.tsv @@ q.query AND (? = FALSE OR t.metadata @> '{"half": true}')
     ORDER BY score DESC, t.id LIMIT ?`,
    [text, onlyHalf, depth],
  )
  return rows.map((r) => [r.id, r.score])
}

const ranked = (matches: ReadonlyArray<{ id: string; score: number }>) =>
  matches.map((m): [string, number] => [m.id, m.score])

describe('PgVectorStore text ranking by tiers', () => {
  it('returns exactly the list that ranking every match returns, at every depth', async () => {
    for (const text of queries(24)) {
      for (const topK of [1, 7, 60, 400]) {
        const expected = await rankEveryMatch(adapter, text, topK)
        expect([text, topK, ranked(await store.query('words', { text, mode: 'text', topK }))]).toEqual([
          text,
          topK,
          expected,
        ])
      }
    }
  })

  it('returns exactly that list under a filter', async () => {
    for (const text of queries(12)) {
      const matches = await store.query('words', { text, mode: 'text', topK: 50, filter: { half: true } })
      expect([text, ranked(matches)]).toEqual([text, await rankEveryMatch(adapter, text, 50, true)])
    }
  })

  it('fuses hybrid results from that list', async () => {
    for (const text of queries(8)) {
      const vector = [0.5, 0.2, 1]
      // Below exactBelow the hybrid's vector list is every record, ranked exactly.
      const vectorList = await store.query('words', { vector, mode: 'vector', topK: 3000 })
      const textList = (await rankEveryMatch(adapter, text, 200)).map(([id, score]) => ({ id, score }))
      const fused = reciprocalRankFusion([vectorList, textList], { limit: 10 })
      const hybrid = await store.query('words', { vector, text, mode: 'hybrid', topK: 10 })
      expect([text, hybrid.map((m) => m.id)]).toEqual([text, fused.map((f) => f.id)])
    }
  })

  it('ranks a single common word by its repeats first, then by id', async () => {
    const common = VOCABULARY[0] as string
    const matches = await store.query('words', { text: common, mode: 'text', topK: 100 })
    expect(ranked(matches)).toEqual(await rankEveryMatch(adapter, common, 100))
    expect(matches[0]?.score).toBeGreaterThan(matches[99]?.score as number)
  })

  it('adds the repeated-words index to a collection made without it, and ranks the same', async () => {
    const relation = table.split('.')[1]?.replaceAll('"', '') as string
    await adapter.exec(`DROP INDEX "${schema}"."${relation}_repeats"`)
    const fresh = createPgVectorStore({ adapter, schema })
    try {
      const text = queries(3)[2] as string
      expect(ranked(await fresh.query('words', { text, mode: 'text', topK: 30 }))).toEqual(
        await rankEveryMatch(adapter, text, 30),
      )
      const index = await adapter.get(`SELECT to_regclass(?) IS NOT NULL AS present`, [
        `"${schema}"."${relation}_repeats"`,
      ])
      expect(index).toEqual({ present: true })
    } finally {
      await fresh.close()
    }
  })
})

describe('PgVectorStore text ranking without the repeated-words index', () => {
  it('ranks every match, with the same results, for a role that cannot add the index', async () => {
    const owner = await createRestrictedRole('engram_vtl_owner')
    const reader = await createRestrictedRole('engram_vtl_reader')
    const ownerDb = createPostgresAdapter({ connectionString: owner.url })
    const readerDb = createPostgresAdapter({ connectionString: reader.url })
    const mine = createPgVectorStore({ adapter: ownerDb, schema: owner.schema })
    const theirs = createPgVectorStore({ adapter: readerDb, schema: owner.schema })
    try {
      await mine.createCollection('legacy', { dimension: 3 })
      await mine.upsert('legacy', records(400))
      const id = await ownerDb.get<{ id: number }>(
        `SELECT id FROM "${owner.schema}".engram_collections WHERE name = 'legacy'`,
      )
      await ownerDb.exec(`DROP INDEX "${owner.schema}"."engram_v${Number(id?.id)}_repeats"`)
      await admin(`GRANT USAGE, CREATE ON SCHEMA ${owner.schema} TO ${reader.role};
        GRANT SELECT ON ALL TABLES IN SCHEMA ${owner.schema} TO ${reader.role}`)
      for (const text of queries(6)) {
        const theirList = ranked(await theirs.query('legacy', { text, mode: 'text', topK: 25 }))
        const ownList = ranked(await mine.query('legacy', { text, mode: 'text', topK: 25 }))
        expect(theirList).toEqual(ownList)
      }
    } finally {
      await mine.close()
      await theirs.close()
      await ownerDb.close()
      await readerDb.close()
      await reader.drop()
      await owner.drop()
    }
  })
})
