import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

// The caching store and the "other process" use separate pools, as two processes would.
const schema = freshSchema('engram_vcache')
let mine: StorageAdapter
let theirs: StorageAdapter
let cached: VectorStore
let other: VectorStore
const name = 'notes'

beforeAll(async () => {
  await requireDatabase()
  mine = createPostgresAdapter({ connectionString: PG_URL })
  theirs = createPostgresAdapter({ connectionString: PG_URL })
  cached = createPgVectorStore({ adapter: mine, schema })
  other = createPgVectorStore({ adapter: theirs, schema })
})

afterAll(async () => {
  await cached?.close()
  await other?.close()
  await mine?.close()
  await theirs?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

beforeEach(async () => {
  await other.dropCollection(name)
  await cached.createCollection(name, { dimension: 2 })
  await cached.upsert(name, [
    { id: 'old-a', vector: [1, 0], text: 'old words' },
    { id: 'old-b', vector: [0, 1], text: 'old words' },
  ])
  // Every operation below starts from a store that has the collection in its cache.
  expect(await cached.count(name)).toBe(2)
})

describe('PgVectorStore registry cache', () => {
  it('serves a collection recreated elsewhere with another dimension, never the old one', async () => {
    await other.dropCollection(name)
    await other.createCollection(name, { dimension: 3, metric: 'dot' })
    await other.upsert(name, [{ id: 'new', vector: [0, 0, 1], text: 'new words' }])

    expect(await cached.count(name)).toBe(1)
    expect(await cached.describeCollection(name)).toEqual({ name, dimension: 3, metric: 'dot', count: 1 })
    expect((await cached.query(name, { vector: [0, 0, 1], topK: 5 })).map((m) => m.id)).toEqual(['new'])
    expect((await cached.query(name, { text: 'words', topK: 5 })).map((m) => m.id)).toEqual(['new'])
    expect((await cached.get(name, ['new', 'old-a'])).map((r) => r.id)).toEqual(['new'])
    await cached.upsert(name, [{ id: 'mine', vector: [1, 1, 1] }])
    expect((await other.get(name, ['mine']))[0]?.vector).toEqual(Float32Array.from([1, 1, 1]))
    expect(await cached.delete(name, { ids: ['new', 'old-b'] })).toBe(1)
    expect(await other.count(name)).toBe(1)
    // The old dimension is refused once the store knows the new one.
    await expectStorageError(cached.upsert(name, [{ id: 'x', vector: [1, 0] }]), 'DIMENSION_MISMATCH')
  })

  it('serves a collection recreated elsewhere with the same spec, without the old records', async () => {
    await other.dropCollection(name)
    await other.createCollection(name, { dimension: 2 })
    await other.upsert(name, [{ id: 'new', vector: [1, 0] }])

    expect((await cached.query(name, { vector: [1, 0], topK: 5 })).map((m) => m.id)).toEqual(['new'])
    expect(await cached.get(name, ['old-a', 'new'])).toHaveLength(1)
    expect(await cached.delete(name, { filter: {} })).toBe(1)
    await cached.upsert(name, [{ id: 'mine', vector: [0, 1] }])
    expect((await other.get(name, ['mine', 'old-a'])).map((r) => r.id)).toEqual(['mine'])
  })

  it('fails with NOT_FOUND on every operation once another store dropped the collection', async () => {
    await other.dropCollection(name)
    await expectStorageError(cached.query(name, { vector: [1, 0], topK: 1 }), 'NOT_FOUND')
    await expectStorageError(cached.upsert(name, [{ id: 'late', vector: [1, 0] }]), 'NOT_FOUND')
    await expectStorageError(cached.get(name, ['old-a']), 'NOT_FOUND')
    await expectStorageError(cached.delete(name, { ids: ['old-a'] }), 'NOT_FOUND')
    await expectStorageError(cached.count(name), 'NOT_FOUND')
    expect(await cached.describeCollection(name)).toBeUndefined()
    // The refused upsert created nothing.
    expect(await other.listCollections()).toEqual([])
  })

  it('rolls back a multi-statement upsert into a dropped table and writes it once into the new one', async () => {
    await other.dropCollection(name)
    await other.createCollection(name, { dimension: 2 })
    const many = Array.from({ length: 1200 }, (_, i) => ({ id: `m${i}`, vector: [1, i] }))
    await cached.upsert(name, many)
    expect(await other.count(name)).toBe(1200)
  })
})
