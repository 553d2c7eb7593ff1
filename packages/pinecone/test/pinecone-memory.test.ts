import { Memory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { describe, expect, it } from 'vitest'
import { storeOn, useServer } from './pinecone-test-env.js'

// The default local embedder returns 384 dimensions, so the index has 384.
const server = await useServer([{ name: 'memories', dimension: 384 }])

describe('Memory on the Pinecone store', () => {
  it('remembers, recalls (vector mode, scoped) and forgets', async () => {
    const storage = createSqliteNativeAdapter({ filename: ':memory:' })
    const vectors = storeOn(server, 'memories', { tenant: 'agent-1' })
    const memory = await Memory.open({ storage, vectors })
    try {
      const bread = await memory.remember('Ada bakes sourdough bread every Sunday', {
        scope: 'user:ada',
        tags: ['food'],
      })
      await memory.remember('Ada rides her bicycle to work', { scope: 'user:ada' })
      await memory.remember('Grace bakes sourdough bread too', { scope: 'user:grace' })

      const hits = await memory.recall('what bread does Ada bake?', { scope: 'user:ada' })
      expect(hits[0]?.trace.id).toBe(bread.id)
      expect(hits.every((hit) => hit.trace.scope === 'user:ada')).toBe(true)
      expect((await memory.recall('sourdough', { tag: 'food' })).map((hit) => hit.trace.id)).toEqual([
        bread.id,
      ])

      expect(await memory.forget(bread.id)).toBe(true)
      const after = await memory.recall('what bread does Ada bake?', { scope: 'user:ada' })
      expect(after.map((hit) => hit.trace.id)).not.toContain(bread.id)
      expect(await vectors.count('memories')).toBe(2)
    } finally {
      await memory.close()
      await vectors.close()
      await storage.close()
    }
  })
})
