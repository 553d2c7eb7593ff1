import { expectStorageError } from '@engram/conformance'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

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
