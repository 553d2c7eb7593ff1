import type { StorageAdapter, VectorStore } from '@engram/core'
import { isStorageError } from '@engram/core'
import { Memory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

const FACTS = [
  'Wellington is the capital of New Zealand, on the southern tip of the North Island.',
  'The Amazon river carries more water than any other river on Earth.',
  'Grace Hopper led the team that built the first compiler for a programming language.',
  'Mitochondria turn nutrients into the energy a cell can use.',
  'The kiwi is a flightless bird found only in New Zealand.',
]

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    if (isStorageError(error)) return error.code
    throw error
  }
  return undefined
}

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

  it("creates its collection in Qdrant with the embedder's dimension", async () => {
    expect(await vectors.describeCollection(memory.collection)).toMatchObject({
      dimension: memory.dimensions,
      metric: 'cosine',
      count: 0,
    })
  })

  it('recalls the most relevant memory first, best score first, in hybrid, vector and text mode', async () => {
    for (const fact of FACTS) await memory.remember(fact)
    for (const mode of ['hybrid', 'vector', 'text'] as const) {
      const hits = await memory.recall('capital of New Zealand', { topK: 3, mode })
      expect(hits[0]?.trace.text, mode).toBe(FACTS[0])
      expect(hits[0]?.score, mode).toBeGreaterThan(0)
      for (let i = 1; i < hits.length; i++) {
        expect(hits[i - 1]?.score, mode).toBeGreaterThanOrEqual(hits[i]?.score as number)
      }
    }
  })

  it('scopes recall by scope, type, tag and a metadata filter', async () => {
    await memory.remember('Ada prefers green tea', {
      scope: 'user:ada',
      tags: ['drink'],
      metadata: { year: 2024 },
    })
    await memory.remember('Grace prefers green tea too', {
      scope: 'user:grace',
      tags: ['drink'],
      metadata: { year: 2023 },
    })
    await memory.remember('Ada lives in Wellington', { scope: 'user:ada', type: 'fact' })
    const ada = await memory.recall('green tea', { scope: 'user:ada' })
    expect(ada.length).toBeGreaterThan(0)
    expect(ada.every((hit) => hit.trace.scope === 'user:ada')).toBe(true)
    expect((await memory.recall('Ada', { type: 'fact' })).map((hit) => hit.trace.text)).toEqual([
      'Ada lives in Wellington',
    ])
    const filtered = await memory.recall('tea', { tag: 'drink', filter: { year: { $gte: 2024 } } })
    expect(filtered.map((hit) => hit.trace.text)).toEqual(['Ada prefers green tea'])
  })

  it('forgets a trace together with its vector', async () => {
    const trace = await memory.remember('The password hint is marmalade')
    expect((await memory.recall('marmalade'))[0]?.trace.id).toBe(trace.id)
    expect(await memory.forget(trace.id)).toBe(true)
    expect(await memory.recall('marmalade')).toEqual([])
    expect(await vectors.get(memory.collection, [trace.id])).toEqual([])
    expect(await memory.forget(trace.id)).toBe(false)
  })

  it('ingests a document into chunks and forgets the document with every chunk vector', async () => {
    const { documentId, chunks } = await memory.ingest(
      { text: FACTS.join('\n\n').repeat(3), title: 'facts' },
      { chunkSize: 200, overlap: 40, batchSize: 4 },
    )
    expect(chunks.length).toBeGreaterThan(4)
    expect(await vectors.count(memory.collection)).toBe(chunks.length)
    expect((await memory.recall('flightless bird', { topK: 1 }))[0]?.trace.documentId).toBe(documentId)
    expect(await memory.forgetDocument(documentId)).toBe(chunks.length)
    expect(await vectors.count(memory.collection)).toBe(0)
  })

  it('deleting a conversation removes the memories made from it, and only those', async () => {
    await memory.conversations.storeConversationTurn('u1', 'c1', {
      role: 'user',
      content: 'I cannot eat shellfish',
    })
    await memory.remember('u1 cannot eat shellfish', { userId: 'u1', conversationId: 'c1' })
    await memory.remember('u2 cannot eat shellfish either', { userId: 'u2', conversationId: 'c1' })
    await memory.remember('shellfish include shrimp and mussels')
    await memory.conversations.deleteConversation('u1', 'c1')
    const left = (await memory.recall('shellfish', { topK: 10 })).map((hit) => hit.trace.text).sort()
    expect(left).toEqual(['shellfish include shrimp and mussels', 'u2 cannot eat shellfish either'])
    expect(await vectors.count(memory.collection)).toBe(2)
  })

  it('refuses bad input and stores nothing', async () => {
    expect(await code(memory.remember('   '))).toBe('INVALID_ARGUMENT')
    expect(await code(memory.remember('x', { metadata: { scope: 'sneaky' } }))).toBe('INVALID_ARGUMENT')
    expect(await code(memory.recall(''))).toBe('INVALID_ARGUMENT')
    expect(await memory.count()).toBe(0)
    expect(await vectors.count(memory.collection)).toBe(0)
  })
})
