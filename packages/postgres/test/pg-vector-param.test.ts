import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresAdapter } from '../src/index.js'
import { vectorLiteral, vectorParam } from '../src/pg-vector-rows.js'
import { PG_URL, requireDatabase } from './pg-test-env.js'

let db: StorageAdapter

beforeAll(async () => {
  await requireDatabase()
  db = createPostgresAdapter({ connectionString: PG_URL })
})

afterAll(async () => {
  await db?.close()
})

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
    const text = await db.get<{ v: string }>('SELECT ?::vector::text AS v', [vectorLiteral(AWKWARD)])
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
