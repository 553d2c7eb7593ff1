import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { vectorArrayParam, vectorParam } from '../src/pg-vector-rows.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

let db: StorageAdapter
const schema = freshSchema('engram_vparam')

beforeAll(async () => {
  await requireDatabase()
  db = createPostgresAdapter({ connectionString: PG_URL })
})

afterAll(async () => {
  await db?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

/** pgvector's text form, as hand-written SQL sends a vector. */
const literal = (vector: Float32Array): string => `[${Array.from(vector).join(',')}]`

/** Values whose float32 bits a text round trip or a byte-order slip would change. */
const AWKWARD = Float32Array.of(
  1.5,
  -2,
  0.1,
  3.4028234663852886e38,
  1.401298464324817e-45,
  -1.1754943508222875e-38,
  1 / 3,
  123456.7890625,
)

describe('query vectors bound in binary', () => {
  it('reach pgvector as exactly the float32 values the text form gives', async () => {
    const binary = await db.get<{ v: string }>('SELECT ?::vector::text AS v', [vectorParam(AWKWARD)])
    const text = await db.get<{ v: string }>('SELECT ?::vector::text AS v', [literal(AWKWARD)])
    expect(binary?.v).toBe(text?.v)
    const numbers = await db.get<{ n: number[] }>('SELECT ?::vector::real[] AS n', [vectorParam(AWKWARD)])
    expect(Float32Array.from(numbers?.n ?? [])).toEqual(AWKWARD)
  })

  it('keep a negative zero, which the text form prints as 0', async () => {
    const row = await db.get<{ v: string }>('SELECT ?::vector::text AS v', [
      vectorParam(Float32Array.of(-0, 0)),
    ])
    expect(row?.v).toBe('[-0,0]')
  })

  it('take their type from an operator when the statement has no cast', async () => {
    const row = await db.get<{ d: number; dims: number }>(
      "SELECT '[3,4,0]'::vector <-> ? AS d, vector_dims(?::vector) AS dims",
      [vectorParam(Float32Array.of(0, 0, 0)), vectorParam(new Float32Array(1536))],
    )
    expect(row).toEqual({ d: 5, dims: 1536 })
  })

  it('leave plain Uint8Array parameters as bytea', async () => {
    const row = await db.get<{ type: string; hex: string }>(
      "SELECT pg_typeof(?)::text AS type, encode(?, 'hex') AS hex",
      [Uint8Array.of(1, 2), Uint8Array.of(0xab, 0xcd)],
    )
    expect(row).toEqual({ type: 'bytea', hex: 'abcd' })
  })

  it('are refused by the server with a clear error when the dimension does not match', async () => {
    await expect(
      db.get("SELECT '[1,2,3]'::vector(3) <=> ? AS d", [vectorParam(Float32Array.of(1, 2))]),
    ).rejects.toMatchObject({
      name: 'StorageError',
      message: expect.stringMatching(/different vector dimensions 3 and 2/),
    })
  })
})

describe('batches of vectors bound as one binary real[]', () => {
  it('give each row its own slice, exactly', async () => {
    const vectors = [AWKWARD, AWKWARD.map((x) => -x), AWKWARD.map((x, i) => x / (i + 2))]
    const rows = await db.all<{ n: number; v: number[] }>(
      'SELECT n::int AS n, (?::real[])[n * ? - ? + 1 : n * ?] AS v FROM generate_series(1, 3) AS n ORDER BY n',
      [vectorArrayParam(vectors, AWKWARD.length), AWKWARD.length, AWKWARD.length, AWKWARD.length],
    )
    expect(rows.map((row) => Float32Array.from(row.v))).toEqual(vectors)
  })

  it('store every record of a multi-statement upsert under its own id', async () => {
    const store = createPgVectorStore({ adapter: db, schema })
    await store.createCollection('batches', { dimension: 3, metric: 'euclidean' })
    // 1,203 records: three statements of at most 500 rows, the last one short.
    const records = Array.from({ length: 1203 }, (_, i) => ({
      id: `r${i}`,
      vector: Float32Array.of(i, -i, i / 7),
    }))
    await store.upsert('batches', records)
    const stored = await store.get(
      'batches',
      records.map((r) => r.id),
    )
    const byId = new Map(stored.map((r) => [r.id, Array.from(r.vector)]))
    expect(byId.size).toBe(1203)
    for (const record of records) expect(byId.get(record.id)).toEqual(Array.from(record.vector))
    const [nearest] = await store.query('batches', { vector: [600, -600, 600 / 7], topK: 1 })
    expect(nearest?.id).toBe('r600')
    expect(Math.abs(nearest?.score ?? 1)).toBe(0)
    await store.close()
  })
})
