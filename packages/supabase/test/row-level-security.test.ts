import { randomUUID } from 'node:crypto'
import type { StorageErrorCode, VectorRecord, VectorStore } from '@engram/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createSupabaseVectorStore } from '../src/index.js'
import { openTarget, type SupabaseTarget, type TestUser } from './supabase-test-env.js'

let target: SupabaseTarget
let service: VectorStore
let alice: VectorStore
let bob: VectorStore
let alicesId: string
let bobsId: string
let name: string

const record = (id: string, vector: number[], owner: string, text: string): VectorRecord => ({
  id,
  vector,
  metadata: { owner, secret: `${owner}-only` },
  text,
})

async function codeOf(action: () => Promise<unknown>): Promise<StorageErrorCode | undefined> {
  try {
    await action()
  } catch (error) {
    return (error as { code?: StorageErrorCode }).code
  }
  return undefined
}

async function scanIds(store: VectorStore, collection: string): Promise<string[]> {
  const ids: string[] = []
  for await (const batch of store.scan(collection, { batchSize: 1 })) ids.push(...batch.map((r) => r.id))
  return ids.sort()
}

function storeFor(user: TestUser): VectorStore {
  return createSupabaseVectorStore({ client: target.userClient(user), schema: target.schema })
}

beforeAll(async () => {
  target = await openTarget()
  service = createSupabaseVectorStore({ client: target.serviceClient(), schema: target.schema })
  if (target.users) {
    const [a, b] = target.users
    alicesId = a.id
    bobsId = b.id
    alice = storeFor(a)
    bob = storeFor(b)
  }
})

afterAll(async () => {
  for (const store of [alice, bob, service]) await store?.close()
  await target?.close()
})

// Each test gets a collection the service role made, holding two records of Alice's and one of Bob's.
beforeEach(async (ctx) => {
  ctx.skip(
    target.users === undefined,
    'set SUPABASE_USER_JWT, SUPABASE_OTHER_USER_JWT and SUPABASE_ANON_KEY to run these on a project',
  )
  name = `rls_${randomUUID().slice(0, 8)}`
  await service.createCollection(name, { dimension: 2 })
  await alice.upsert(name, [
    record('a1', [1, 0], 'alice', 'apple pie'),
    record('a2', [0.9, 0.1], 'alice', 'apple tart'),
  ])
  await bob.upsert(name, [record('b1', [1, 0.01], 'bob', 'apple crumble')])
})

afterEach(async () => {
  if (target.users) await service.dropCollection(name)
})

describe("row-level security: one user's token never reaches another user's records", () => {
  it('a user counts, gets and describes only their own records', async () => {
    expect(await alice.count(name)).toBe(2)
    expect(await bob.count(name)).toBe(1)
    expect(await alice.count(name, { owner: 'bob' })).toBe(0)
    expect((await alice.get(name, ['a1', 'b1'])).map((r) => r.id)).toEqual(['a1'])
    expect(await bob.get(name, ['a1', 'a2'])).toEqual([])
    expect((await alice.describeCollection(name))?.count).toBe(2)
  })

  it('vector, text and hybrid queries return only the caller’s records', async () => {
    const vector = await alice.query(name, { vector: [1, 0.01], topK: 10 })
    expect(vector.map((m) => m.id).sort()).toEqual(['a1', 'a2'])
    const text = await alice.query(name, { text: 'crumble apple', topK: 10 })
    expect(text.map((m) => m.id).sort()).toEqual(['a1', 'a2'])
    const hybrid = await bob.query(name, { vector: [1, 0], text: 'apple', topK: 10 })
    expect(hybrid.map((m) => m.id)).toEqual(['b1'])
    for (const match of hybrid) expect(match.metadata?.owner).toBe('bob')
  })

  it('a scan yields only the caller’s records', async () => {
    expect(await scanIds(alice, name)).toEqual(['a1', 'a2'])
    expect(await scanIds(bob, name)).toEqual(['b1'])
  })

  it("a delete by ids or by filter removes only the caller's records", async () => {
    expect(await alice.delete(name, { ids: ['b1'] })).toBe(0)
    expect(await alice.delete(name, { filter: { owner: 'bob' } })).toBe(0)
    expect(await alice.delete(name, { filter: {} })).toBe(2)
    expect(await scanIds(service, name)).toEqual(['b1'])
  })

  it("writing another user's id is UNIQUE_VIOLATION and leaves their record as it was", async () => {
    expect(await codeOf(() => alice.upsert(name, [record('b1', [0, 1], 'alice', 'taken')]))).toBe(
      'UNIQUE_VIOLATION',
    )
    const [kept] = await service.get(name, ['b1'])
    expect(kept?.metadata).toEqual({ owner: 'bob', secret: 'bob-only' })
    expect(await bob.count(name)).toBe(1)
  })

  it('a user cannot act as another user by naming them as tenant', async () => {
    const impostor = createSupabaseVectorStore({
      client: target.userClient((target.users as [TestUser, TestUser])[0]),
      schema: target.schema,
      tenant: bobsId,
    })
    try {
      expect(await codeOf(() => impostor.count(name))).toBe('INVALID_ARGUMENT')
      expect(await codeOf(() => impostor.get(name, ['b1']))).toBe('INVALID_ARGUMENT')
      expect(await codeOf(() => impostor.delete(name, { ids: ['b1'] }))).toBe('INVALID_ARGUMENT')
      expect(await codeOf(() => impostor.upsert(name, [record('new', [1, 1], 'alice', 'x')]))).toBe(
        'INVALID_ARGUMENT',
      )
    } finally {
      await impostor.close()
    }
    expect(await bob.count(name)).toBe(1)
  })

  it("a user's dropCollection removes their own records and leaves the collection to others", async () => {
    await alice.dropCollection(name)
    expect(await alice.count(name)).toBe(0)
    expect(await bob.count(name)).toBe(1)
    expect(await service.listCollections()).toContain(name)
  })

  it('only the service role creates collections; a user may reuse one with the same spec', async () => {
    expect(await codeOf(() => alice.createCollection(`${name}_new`, { dimension: 2 }))).toBe('UNSUPPORTED')
    expect(await service.describeCollection(`${name}_new`)).toBeUndefined()
    await alice.createCollection(name, { dimension: 2 })
    expect(await codeOf(() => alice.createCollection(name, { dimension: 3 }))).toBe('DIMENSION_MISMATCH')
  })
})

describe('the service role', () => {
  it('sees, counts and scans every user’s records', async () => {
    expect(await service.count(name)).toBe(3)
    expect(await scanIds(service, name)).toEqual(['a1', 'a2', 'b1'])
    expect((await service.get(name, ['a1', 'b1'])).map((r) => r.id)).toEqual(['a1', 'b1'])
    const matches = await service.query(name, { vector: [1, 0], topK: 10 })
    expect(matches.map((m) => m.id).sort()).toEqual(['a1', 'a2', 'b1'])
  })

  it("replaces a user's record in place, and the user still owns it", async () => {
    await service.upsert(name, [record('a1', [0, 1], 'alice', 'rewritten by the server')])
    const [mine] = await alice.get(name, ['a1'])
    expect(mine?.text).toBe('rewritten by the server')
    expect(await bob.get(name, ['a1'])).toEqual([])
  })

  it('with a tenant, acts exactly as that user: their records only, and new records are theirs', async () => {
    const forAlice = createSupabaseVectorStore({
      client: target.serviceClient(),
      schema: target.schema,
      tenant: alicesId,
    })
    try {
      expect(await forAlice.count(name)).toBe(2)
      expect(await forAlice.get(name, ['b1'])).toEqual([])
      await forAlice.upsert(name, [record('a3', [0.5, 0.5], 'alice', 'made on the server')])
      expect(await codeOf(() => forAlice.upsert(name, [record('b1', [0, 1], 'alice', 'x')]))).toBe(
        'UNIQUE_VIOLATION',
      )
      expect(await forAlice.delete(name, { ids: ['b1'] })).toBe(0)
    } finally {
      await forAlice.close()
    }
    expect(await scanIds(alice, name)).toEqual(['a1', 'a2', 'a3'])
    expect(await bob.get(name, ['a3'])).toEqual([])
  })

  it('records it writes without a tenant belong to no user', async () => {
    await service.upsert(name, [record('s1', [1, 1], 'server', 'shared apple')])
    expect(await alice.get(name, ['s1'])).toEqual([])
    expect(await bob.get(name, ['s1'])).toEqual([])
    expect(await service.count(name)).toBe(4)
  })
})

describe('keys without a user', () => {
  it('the anon key alone cannot use the store', async (ctx) => {
    ctx.skip(target.anonKey === undefined, 'set SUPABASE_ANON_KEY')
    const anon = createSupabaseVectorStore({
      url: target.url,
      key: target.anonKey as string,
      schema: target.schema,
    })
    try {
      let failure: { code?: string; message?: string } | undefined
      try {
        await anon.count(name)
      } catch (error) {
        failure = error as { code?: string; message?: string }
      }
      expect(failure?.code).toBe('QUERY_FAILED')
      expect(failure?.message).toMatch(/the anon key alone cannot use them/)
    } finally {
      await anon.close()
    }
    expect(await service.count(name)).toBe(3)
  })
})
