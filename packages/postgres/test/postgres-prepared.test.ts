import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresAdapter } from '../src/index.js'
import { PG_URL, requireDatabase } from './pg-test-env.js'

let db: StorageAdapter
let plain: StorageAdapter

beforeAll(async () => {
  await requireDatabase()
  db = createPostgresAdapter({ connectionString: PG_URL, max: 2, preparedStatements: true })
  plain = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
})

afterAll(async () => {
  await db?.close()
  await plain?.close()
})

/** The statements prepared on the connection `tx` runs on, as the server lists them. */
async function prepared(tx: StorageAdapter): Promise<string[]> {
  const rows = await tx.all<{ statement: string }>(
    'SELECT statement FROM pg_prepared_statements WHERE NOT from_sql ORDER BY prepare_time',
  )
  return rows.map((row) => row.statement)
}

describe('preparedStatements', () => {
  it('refuses a value that is not a boolean', () => {
    expect(() =>
      createPostgresAdapter({ connectionString: PG_URL, preparedStatements: 'true' as unknown as boolean }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'preparedStatements must be true or false, got "true"',
      }),
    )
  })

  it('prepares a statement with parameters once per connection and runs it again by name', async () => {
    await db.transaction(async (tx) => {
      const sql = 'SELECT ?::int + 1 AS n'
      for (let i = 0; i < 3; i++) expect(await tx.get(sql, [i])).toEqual({ n: i + 1 })
      const mine = (await prepared(tx)).filter((statement) => statement.includes('$1::int + 1'))
      expect(mine).toHaveLength(1)
    })
  })

  it('keeps statements without parameters, and every statement of a plain adapter, unnamed', async () => {
    await db.transaction(async (tx) => {
      await tx.all('SELECT 41 + 1 AS answer')
      expect((await prepared(tx)).some((statement) => statement.includes('41 + 1'))).toBe(false)
    })
    await plain.transaction(async (tx) => {
      await tx.get('SELECT ?::int * 3 AS n', [2])
      expect(await prepared(tx)).toEqual([])
    })
  })

  it('gives the same text with other parameter types a statement of its own', async () => {
    await db.transaction(async (tx) => {
      expect(await tx.get('SELECT ? AS v', [2])).toEqual({ v: 2 })
      expect(await tx.get('SELECT ? AS v', [2.5])).toEqual({ v: 2.5 })
      expect(await tx.get('SELECT ? AS v', [true])).toEqual({ v: true })
      expect(await tx.get('SELECT ? AS v', [2])).toEqual({ v: 2 })
    })
  })

  it('names at most 256 statements per connection and runs the rest unnamed', async () => {
    await db.transaction(async (tx) => {
      for (let i = 0; i < 300; i++)
        expect(await tx.get(`SELECT ?::int + ${i} AS n`, [1])).toEqual({ n: i + 1 })
      const count = (await prepared(tx)).length
      expect(count).toBe(256)
    })
  })

  it('prepares a statement again after its first parse failed', async () => {
    await db.transaction(async (tx) => {
      const sql = 'SELECT count(*)::int AS c FROM engram_prepared_later WHERE n = ?'
      // Fails in a savepoint, so the transaction (and its connection) goes on.
      await expect(tx.transaction((inner) => inner.get(sql, [1]))).rejects.toMatchObject({
        name: 'StorageError',
      })
      await tx.exec('CREATE TEMP TABLE engram_prepared_later (n int) ON COMMIT DROP')
      await tx.run('INSERT INTO engram_prepared_later (n) VALUES (?)', [1])
      expect(await tx.get(sql, [1])).toEqual({ c: 1 })
    })
  })
})
