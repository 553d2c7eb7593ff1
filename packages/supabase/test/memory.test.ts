import { randomUUID } from 'node:crypto'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { Memory } from '@engram/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSupabaseAdapter, createSupabaseVectorStore } from '../src/index.js'
import {
  admin,
  freshName,
  openTarget,
  PG_URL,
  type SupabaseTarget,
  type TestUser,
} from './supabase-test-env.js'

// Memory on Supabase: its rows through createSupabaseAdapter (TLS off only because the local
// server has none), its vectors through supabase-js and the SQL functions.
let target: SupabaseTarget
const schemas: string[] = []
const adapters: StorageAdapter[] = []
const stores: VectorStore[] = []

async function storage(): Promise<StorageAdapter> {
  const schema = freshName('engram_sb_memory')
  schemas.push(schema)
  await admin(`CREATE SCHEMA ${schema}`)
  const adapter = createSupabaseAdapter({ connectionString: PG_URL, tls: false, searchPath: schema })
  adapters.push(adapter)
  return adapter
}

function vectors(user?: TestUser): VectorStore {
  const client = user === undefined ? target.serviceClient() : target.userClient(user)
  const store = createSupabaseVectorStore({ client, schema: target.schema })
  stores.push(store)
  return store
}

beforeAll(async () => {
  target = await openTarget()
})

afterAll(async () => {
  for (const store of stores) await store.close()
  for (const adapter of adapters) await adapter.close()
  for (const schema of schemas) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await target?.close()
})

describe('Memory on Supabase', () => {
  it('remembers, recalls and forgets through the service role', async () => {
    const collection = `mem_${randomUUID().slice(0, 8)}`
    const store = vectors()
    const memory = await Memory.open({ storage: await storage(), vectors: store, collection })
    try {
      const bakes = await memory.remember('Ada bakes sourdough every Sunday', { scope: 'user:ada' })
      await memory.remember('Grace writes compilers', { scope: 'user:grace' })
      const hits = await memory.recall('what does Ada bake?', { scope: 'user:ada' })
      expect(hits[0]?.trace.id).toBe(bakes.id)
      expect(hits.map((hit) => hit.trace.text)).not.toContain('Grace writes compilers')
      expect(await store.count(collection)).toBe(2)
      expect(await memory.forget(bakes.id)).toBe(true)
      expect(
        (await memory.recall('sourdough', { scope: 'user:ada' })).map((hit) => hit.trace.id),
      ).not.toContain(bakes.id)
      expect(await store.get(collection, [bakes.id])).toEqual([])
    } finally {
      await memory.close()
      await store.dropCollection(collection)
    }
  })

  it("recalls only the signed-in user's own memories once the service role has made the collection", async (ctx) => {
    ctx.skip(target.users === undefined, 'needs two signed-in users (SUPABASE_USER_JWT and friends)')
    const [ada, grace] = target.users as [TestUser, TestUser]
    const collection = `mem_${randomUUID().slice(0, 8)}`
    const service = vectors()
    await service.createCollection(collection, { dimension: 384 })
    const adas = await Memory.open({ storage: await storage(), vectors: vectors(ada), collection })
    const graces = await Memory.open({ storage: await storage(), vectors: vectors(grace), collection })
    try {
      const secret = await adas.remember('my locker code is 4711')
      await graces.remember('my favourite number is 42')
      expect((await adas.recall('locker code'))[0]?.trace.id).toBe(secret.id)
      // Grace's own trace rows live elsewhere, and her token cannot reach Ada's vector at all.
      expect(await graces.recall('locker code')).not.toContainEqual(
        expect.objectContaining({ trace: expect.objectContaining({ id: secret.id }) }),
      )
      expect(await vectors(grace).get(collection, [secret.id])).toEqual([])
      expect(await adas.forget(secret.id)).toBe(true)
      expect(await service.count(collection)).toBe(1)
    } finally {
      await adas.close()
      await graces.close()
      await service.dropCollection(collection)
    }
  })
})
