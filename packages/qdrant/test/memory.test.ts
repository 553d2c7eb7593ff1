import type { StorageAdapter, VectorStore } from '@engram/core'
import { Memory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

// Structured data in SQLite, vectors in Qdrant: the configuration the Qdrant tier exists for.
describe('Memory on a Qdrant vector store', () => {
  let target: QdrantTarget
  let storage: StorageAdapter
  let vectors: VectorStore
  let memory: Memory

  beforeAll(async () => {
    target = await startTarget()
  })

  afterAll(async () => {
    await target.stop()
  })

  beforeEach(async () => {
    storage = createSqliteNativeAdapter({ filename: ':memory:' })
    vectors = target.open({ collectionPrefix: target.prefix() })
    memory = await Memory.open({ storage, vectors })
  })

  afterEach(async () => {
    await memory.close()
    await vectors.dropCollection(memory.collection)
    await vectors.close()
    await storage.close()
  })

  it('creates its collection in Qdrant with the embedder’s dimension', async () => {
    expect(await vectors.describeCollection(memory.collection)).toMatchObject({
      dimension: memory.dimensions,
      metric: 'cosine',
      count: 0,
    })
  })

  it('remembers, recalls the best match first (hybrid), and forgets it again', async () => {
    const tea = await memory.remember('Ada prefers green tea in the morning', {
      scope: 'user:ada',
      tags: ['drink'],
    })
    await memory.remember('Ada bakes sourdough bread on weekends', { scope: 'user:ada' })
    await memory.remember('Grace prefers black coffee', { scope: 'user:grace' })
    expect(await vectors.count(memory.collection)).toBe(3)

    const hits = await memory.recall('what tea does Ada prefer?', { scope: 'user:ada' })
    expect(hits[0]?.trace.id).toBe(tea.id)
    expect(hits.every((hit) => hit.trace.scope === 'user:ada')).toBe(true)
    expect(
      (await memory.recall('prefers', { scope: 'user:ada', tag: 'drink' })).map((h) => h.trace.id),
    ).toEqual([tea.id])

    expect(await memory.forget(tea.id)).toBe(true)
    expect(await vectors.get(memory.collection, [tea.id])).toEqual([])
    const after = await memory.recall('what tea does Ada prefer?', { scope: 'user:ada' })
    expect(after.map((hit) => hit.trace.id)).not.toContain(tea.id)
    expect(await memory.get(tea.id)).toBeUndefined()
  })

  it('recalls by text alone and by vector alone', async () => {
    const note = await memory.remember('The lighthouse keeper logs every ship', { scope: 'log' })
    await memory.remember('A recipe for plum jam', { scope: 'log' })
    expect((await memory.recall('lighthouse', { mode: 'text', scope: 'log' }))[0]?.trace.id).toBe(note.id)
    expect(
      (await memory.recall('lighthouse keeper ship', { mode: 'vector', scope: 'log' }))[0]?.trace.id,
    ).toBe(note.id)
  })
})
