import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter, type PgVectorStoreConfig } from '../src/index.js'
import { admin, createRestrictedRole, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

const schema = freshSchema('engram_ve')
const bare = freshSchema('engram_novector')

beforeAll(async () => {
  await requireDatabase()
  await admin(`CREATE DATABASE ${bare}`)
})

afterAll(async () => {
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await admin(`DROP DATABASE IF EXISTS ${bare} WITH (FORCE)`)
})

describe('PgVectorStore errors', () => {
  it('says how to install pgvector when the database does not have it', async () => {
    const url = new URL(PG_URL)
    url.pathname = `/${bare}`
    const store = createPgVectorStore({ connectionString: url.toString(), schema })
    try {
      const error = await expectStorageError(
        store.createCollection('docs', { dimension: 3 }),
        'DRIVER_NOT_INSTALLED',
      )
      expect(error.message).toBe(
        'pgvector is not installed in this database: run CREATE EXTENSION vector, or see docs/postgres.md',
      )
      await expectStorageError(store.listCollections(), 'DRIVER_NOT_INSTALLED')
    } finally {
      await store.close()
    }
  })

  it('rejects records, queries and specs of another dimension with DIMENSION_MISMATCH', async () => {
    const store = createPgVectorStore({ connectionString: PG_URL, schema })
    try {
      await store.createCollection('dims', { dimension: 3 })
      await expectStorageError(store.upsert('dims', [{ id: 'x', vector: [1, 2] }]), 'DIMENSION_MISMATCH')
      await expectStorageError(store.query('dims', { vector: [1, 2, 3, 4] }), 'DIMENSION_MISMATCH')
      await expectStorageError(store.createCollection('dims', { dimension: 4 }), 'DIMENSION_MISMATCH')
      await store.dropCollection('dims')
    } finally {
      await store.close()
    }
  })

  it('reports a refused connection with host and port and without the password', async () => {
    const store = createPgVectorStore({
      connectionString: 'postgres://app:pw-s3cret@127.0.0.1:1/app',
      schema,
    })
    try {
      const error = await expectStorageError(store.listCollections(), 'CONNECTION_FAILED')
      expect(error.message).toContain('127.0.0.1:1')
      expect(error.message).not.toContain('pw-s3cret')
    } finally {
      await store.close()
    }
  })
})

/** The `code` of the error `createPgVectorStore(config)` throws, or `undefined` when it opens. */
function refusal(config: PgVectorStoreConfig): unknown {
  try {
    createPgVectorStore(config)
  } catch (error) {
    return (error as { code?: unknown }).code
  }
  return undefined
}

describe('PgVectorStore config', () => {
  it('needs exactly one of adapter and connectionString', async () => {
    const adapter = createPostgresAdapter({ connectionString: PG_URL })
    try {
      expect(refusal({})).toBe('INVALID_ARGUMENT')
      expect(refusal({ connectionString: '' })).toBe('INVALID_ARGUMENT')
      expect(refusal({ adapter, connectionString: PG_URL })).toBe('INVALID_ARGUMENT')
      expect(refusal({ adapter })).toBeUndefined()
    } finally {
      await adapter.close()
    }
  })

  it('refuses HNSW and threshold options that are not integers in range, and on/off options that are not booleans', () => {
    const connectionString = PG_URL
    for (const bad of [{ m: 0 }, { efConstruction: -1 }, { efSearch: 1.5 }, { exactBelow: -1 }]) {
      expect(refusal({ connectionString, ...bad })).toBe('INVALID_ARGUMENT')
    }
    expect(refusal({ connectionString, commonTermFraction: 0 })).toBe('INVALID_ARGUMENT')
    for (const flag of ['rowLevelSecurity', 'createExtension', 'buildIndexInBackground']) {
      expect(refusal({ connectionString, tenant: 't', [flag]: 'false' }), flag).toBe('INVALID_ARGUMENT')
    }
    expect(refusal({ connectionString, schema: 'no-dashes' })).toBe('INVALID_ARGUMENT')
  })
})

describe('PgVectorStore close', () => {
  /** Open connections of one role, as the server counts them. */
  async function connections(observer: StorageAdapter, role: string): Promise<number> {
    const row = await observer.get<{ n: number }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE usename = ?',
      [role],
    )
    return Number(row?.n)
  }
  /** The role's connection count, waiting up to 5 s for it to reach 0: backends exit shortly after their client disconnects. */
  async function settledConnections(observer: StorageAdapter, role: string): Promise<number> {
    let count = await connections(observer, role)
    for (let waited = 0; count > 0 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      count = await connections(observer, role)
    }
    return count
  }

  it('leaves an adapter it was given open, and ends the pool it opened from connectionString', async () => {
    const observer = createPostgresAdapter({ connectionString: PG_URL })
    const lender = await createRestrictedRole('engram_vclose_given')
    const opener = await createRestrictedRole('engram_vclose_owned')
    const given = createPostgresAdapter({ connectionString: lender.url })
    try {
      const borrowing = createPgVectorStore({ adapter: given, schema: lender.schema })
      await borrowing.listCollections()
      await borrowing.close()
      await expectStorageError(borrowing.listCollections(), 'CLOSED')
      expect(await given.get('SELECT 1 AS ok')).toEqual({ ok: 1 })

      const owning = createPgVectorStore({ connectionString: opener.url, schema: opener.schema })
      await owning.listCollections()
      expect(await connections(observer, opener.role)).toBeGreaterThan(0)
      await owning.close()
      // The pool has ended its clients; the server reaps their backends a moment later.
      expect(await settledConnections(observer, opener.role)).toBe(0)
    } finally {
      await given.close()
      await observer.close()
      await lender.drop()
      await opener.drop()
    }
  })
})
