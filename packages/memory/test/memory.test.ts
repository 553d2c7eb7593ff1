import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createReferenceVectorStore, expectStorageError } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter, type PgVectorStore } from '@engram/postgres'
import type { SqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { Embedder } from '../src/embedder.js'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'
import type { MemoryOptions } from '../src/memory-options.js'
import { PG_URL } from './storage-backends.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-memory-'))
let files = 0
const opened: Memory[] = []
const extra: StorageAdapter[] = []
const schemas: string[] = []
let admin: StorageAdapter | undefined

afterEach(async () => {
  for (const memory of opened.splice(0)) await memory.close().catch(() => undefined)
  for (const adapter of extra.splice(0)) await adapter.close().catch(() => undefined)
})
afterAll(async () => {
  if (admin) {
    for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  }
  rmSync(folder, { recursive: true, force: true })
})

async function open(options: MemoryOptions = {}): Promise<Memory> {
  const memory = await Memory.open({ path: join(folder, `memory-${++files}.db`), ...options })
  opened.push(memory)
  return memory
}

async function postgresStorage(): Promise<StorageAdapter> {
  admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  const schema = `engram_mem_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
  await admin.exec(`CREATE SCHEMA ${schema}`)
  schemas.push(schema)
  // pgvector's types live in public, so it stays on the search path after the test's own schema.
  const adapter = createPostgresAdapter({ connectionString: PG_URL, searchPath: [schema, 'public'], max: 4 })
  extra.push(adapter)
  return adapter
}

const FACTS = [
  'Canberra is the capital of Australia, chosen as a compromise between Sydney and Melbourne.',
  'The Great Barrier Reef is the largest coral reef system in the world.',
  'Ada Lovelace wrote the first published algorithm for a machine.',
  'Photosynthesis converts light energy into chemical energy in plants.',
  'The kangaroo is a marsupial found only in Australia.',
]

type Setup = { name: string; make: (options?: MemoryOptions) => Promise<Memory> }
const setups: Setup[] = [
  { name: 'SQLite file with the embedded tiers', make: (options) => open(options) },
  {
    name: 'Postgres rows and pgvector',
    make: async (options) => open({ ...options, storage: await postgresStorage() }),
  },
  {
    name: 'Postgres rows with another vector store',
    make: async (options) =>
      open({ ...options, storage: await postgresStorage(), vectors: createReferenceVectorStore() }),
  },
]

for (const setup of setups) {
  describe(`Memory on ${setup.name}`, () => {
    it('recalls the most relevant memory first, with a score, in every mode', async () => {
      const memory = await setup.make()
      for (const fact of FACTS) await memory.remember(fact)
      for (const mode of ['hybrid', 'vector', 'text'] as const) {
        const hits = await memory.recall('capital of Australia', { topK: 3, mode })
        expect(hits[0]?.trace.text, mode).toBe(FACTS[0])
        expect(hits[0]?.score, mode).toBeGreaterThan(0)
        for (let i = 1; i < hits.length; i++)
          expect(hits[i - 1]?.score).toBeGreaterThanOrEqual(hits[i]?.score as number)
      }
    })

    it('scopes recall by scope, type, tag and metadata filter', async () => {
      const memory = await setup.make()
      await memory.remember('Ada prefers green tea', {
        scope: 'user:ada',
        tags: ['drink'],
        metadata: { year: 2024 },
      })
      await memory.remember('Bob prefers green tea too', {
        scope: 'user:bob',
        tags: ['drink'],
        metadata: { year: 2023 },
      })
      await memory.remember('Ada lives in Canberra', { scope: 'user:ada', type: 'fact' })
      const ada = await memory.recall('green tea', { scope: 'user:ada' })
      expect(ada.map((h) => h.trace.scope)).toEqual(['user:ada', 'user:ada'].slice(0, ada.length))
      expect(ada.some((h) => h.trace.text.startsWith('Bob'))).toBe(false)
      expect((await memory.recall('Ada', { type: 'fact' })).map((h) => h.trace.text)).toEqual([
        'Ada lives in Canberra',
      ])
      expect(
        (await memory.recall('tea', { tag: 'drink', filter: { year: { $gte: 2024 } } })).map(
          (h) => h.trace.text,
        ),
      ).toEqual(['Ada prefers green tea'])
    })

    it('forgets a trace together with its vector', async () => {
      const memory = await setup.make()
      const trace = await memory.remember('The secret word is xylophone')
      expect((await memory.recall('xylophone'))[0]?.trace.id).toBe(trace.id)
      expect(await memory.forget(trace.id)).toBe(true)
      expect(await memory.recall('xylophone')).toEqual([])
      expect(await memory.vectors.get(memory.collection, [trace.id])).toEqual([])
      expect(await memory.forget(trace.id)).toBe(false)
    })

    it('ingests a document into linked chunks, reports progress, and forgets it whole', async () => {
      const memory = await setup.make()
      const text = FACTS.join('\n\n').repeat(3)
      const progress: Array<[number, number]> = []
      const { documentId, chunks } = await memory.ingest(
        { text, title: 'facts' },
        {
          chunkSize: 200,
          overlap: 40,
          batchSize: 4,
          onProgress: (done, total) => progress.push([done, total]),
        },
      )
      expect(chunks.length).toBeGreaterThan(4)
      expect(chunks.map((c) => c.chunkIndex)).toEqual(chunks.map((_, i) => i))
      expect(chunks.every((c) => c.documentId === documentId && c.type === 'chunk')).toBe(true)
      expect(progress.at(-1)).toEqual([chunks.length, chunks.length])
      const hit = (await memory.recall('coral reef', { topK: 1 }))[0]
      expect(hit?.trace.documentId).toBe(documentId)
      expect(await memory.forgetDocument(documentId)).toBe(chunks.length)
      expect(await memory.count()).toBe(0)
      expect(await memory.vectors.count(memory.collection)).toBe(0)
    })

    it('deleting a conversation removes the memories made from it, and only those', async () => {
      const memory = await setup.make()
      await memory.conversations.storeConversationTurn('u1', 'c1', {
        role: 'user',
        content: 'I am allergic to peanuts',
      })
      await memory.remember('u1 is allergic to peanuts', { userId: 'u1', conversationId: 'c1' })
      await memory.remember('u2 is allergic to peanuts as well', { userId: 'u2', conversationId: 'c1' })
      await memory.remember('peanuts are legumes')
      await memory.conversations.deleteConversation('u1', 'c1')
      const left = (await memory.recall('peanuts allergic', { topK: 10 })).map((h) => h.trace.text).sort()
      expect(left).toEqual(['peanuts are legumes', 'u2 is allergic to peanuts as well'])
      expect(await memory.vectors.count(memory.collection)).toBe(2)
    })

    it('stores concurrent remembers and forgets whole, each trace with exactly its vector', async () => {
      const memory = await setup.make()
      const traces = await Promise.all(
        Array.from({ length: 24 }, (_, i) => memory.remember(`concurrent note ${i}`, { scope: 'load' })),
      )
      await Promise.all(traces.filter((_, i) => i % 3 === 0).map((trace) => memory.forget(trace.id)))
      const kept = traces.filter((_, i) => i % 3 !== 0).map((trace) => trace.id)
      const vectors = (
        await memory.vectors.get(
          memory.collection,
          traces.map((t) => t.id),
        )
      ).map((r) => r.id)
      expect(vectors.sort()).toEqual([...kept].sort())
      expect(await memory.count('load')).toBe(kept.length)
    })

    it('rejects bad input with a clear error and stores nothing', async () => {
      const memory = await setup.make()
      await expectStorageError(memory.remember('   '), 'INVALID_ARGUMENT')
      await expectStorageError(memory.remember('x', { metadata: { scope: 'sneaky' } }), 'INVALID_ARGUMENT')
      await expectStorageError(memory.remember('x', { userId: 'only-user' }), 'INVALID_ARGUMENT')
      await expectStorageError(memory.recall(''), 'INVALID_ARGUMENT')
      expect(await memory.count()).toBe(0)
    })
  })
}

describe('Memory.open', () => {
  it('with no options makes a SQLite file in the data folder and works', async () => {
    const dataDir = join(folder, 'default-data')
    const previous = process.env.ENGRAM_DATA_DIR
    process.env.ENGRAM_DATA_DIR = dataDir
    try {
      const memory = await Memory.open()
      opened.push(memory)
      expect(memory.storage.kind).toBe('sqlite-native')
      expect(memory.dimensions).toBe(384)
      await memory.remember('zero configuration works')
      expect((await memory.recall('configuration'))[0]?.trace.text).toBe('zero configuration works')
      expect(existsSync(join(dataDir, 'memory.db'))).toBe(true)
    } finally {
      if (previous === undefined) delete process.env.ENGRAM_DATA_DIR
      else process.env.ENGRAM_DATA_DIR = previous
    }
  })

  it('uses @engram/sqlite-vector on SQLite, switching to the HNSW index from exactBelow records', async () => {
    for (const [options, indexed] of [
      [{ exactBelow: 3 }, true],
      [{ exactBelow: 4 }, false],
      [{ annThreshold: 3 }, true],
    ] as const) {
      const memory = await open(options)
      const vectors = memory.vectors as SqliteVectorStore
      expect(vectors.kind).toBe('sqlite-vector')
      for (const fact of FACTS.slice(0, 3)) await memory.remember(fact)
      expect((await memory.recall('coral reef', { mode: 'vector' }))[0]?.trace.text).toContain('Barrier Reef')
      expect((await vectors.annStatus(memory.collection)).open, JSON.stringify(options)).toBe(indexed)
    }
  })

  it('starts the HNSW build in the background once a rememberMany commits, before any recall', async () => {
    const memory = await open({ exactBelow: 10 })
    const vectors = memory.vectors as SqliteVectorStore
    // More records than an index takes in within a query (500): built in a worker thread.
    await memory.rememberMany(
      Array.from({ length: 600 }, (_, i) => ({ text: `fact ${i} about topic ${i % 17}` })),
    )
    expect(await vectors.annStatus(memory.collection)).toMatchObject({ open: false, building: true })
    await vectors.buildIndex(memory.collection)
    expect(await vectors.annStatus(memory.collection)).toMatchObject({
      open: true,
      size: 600,
      source: 'rebuilt',
    })
  })

  it('takes each remember() into an open HNSW index when it commits, so the next recall applies nothing', async () => {
    const memory = await open({ exactBelow: 3 })
    const vectors = memory.vectors as SqliteVectorStore
    for (const fact of FACTS.slice(0, 3)) await memory.remember(fact)
    await memory.recall('coral reef', { mode: 'vector' })
    expect(await vectors.annStatus(memory.collection)).toMatchObject({ open: true, size: 3 })
    await memory.remember('Octopuses have three hearts')
    // Read before any recall: remember() itself brought the index up to the new sequence.
    const status = await vectors.annStatus(memory.collection)
    expect(status).toMatchObject({ open: true, size: 4, building: false })
    expect(status.appliedSequence).toBe(status.sequence)
  })

  it('measures the embedding dimension instead of assuming it', async () => {
    const memory = await open({ embed: createLocalEmbedder({ dimensions: 64 }) })
    expect(memory.dimensions).toBe(64)
    expect((await memory.vectors.describeCollection(memory.collection))?.dimension).toBe(64)
    await expectStorageError(
      Memory.open({
        path: join(folder, 'x.db'),
        embed: createLocalEmbedder({ dimensions: 64 }),
        dimensions: 32,
      }),
      'DIMENSION_MISMATCH',
    )
  })

  it('refuses to reopen a memory with an embedder of another dimension', async () => {
    const path = join(folder, 'reopen.db')
    const first = await Memory.open({ path, embed: createLocalEmbedder({ dimensions: 64 }) })
    await first.remember('kept')
    await first.close()
    await expectStorageError(
      Memory.open({ path, embed: createLocalEmbedder({ dimensions: 128 }) }),
      'DIMENSION_MISMATCH',
    )
    const again = await Memory.open({ path, embed: createLocalEmbedder({ dimensions: 64 }) })
    opened.push(again)
    expect(await again.count()).toBe(1)
  })

  it('removes the trace rows again when the vector store refuses them', async () => {
    const local = createLocalEmbedder({ dimensions: 32 })
    let poison = false
    const embed: Embedder = async (texts) => {
      const vectors = await local(texts)
      if (poison) vectors[0]?.fill(Number.NaN)
      return vectors
    }
    const memory = await open({ embed })
    await memory.remember('fine')
    poison = true
    await expectStorageError(memory.remember('poisoned'), 'INVALID_ARGUMENT')
    expect(await memory.count()).toBe(1)
  })

  it('keeps graph and state in the same database', async () => {
    const memory = await open()
    await memory.graph.addEntity({ id: 'ada', name: 'Ada Lovelace', type: 'person' })
    await memory.graph.addEntity({ id: 'engine', name: 'Analytical Engine', type: 'machine' })
    await memory.graph.addRelation('ada', 'engine', 'wrote_for')
    await memory.state.save('agent-1', { turn: 3 })
    expect((await memory.graph.neighbors('ada')).map((n) => n.entity.name)).toEqual(['Analytical Engine'])
    expect(await memory.state.load('agent-1')).toEqual({ turn: 3 })
  })

  it('fails every call after close() with CLOSED', async () => {
    const memory = await open()
    await memory.close()
    await expectStorageError(memory.remember('late'), 'CLOSED')
    await expectStorageError(memory.recall('late'), 'CLOSED')
    await memory.close()
  })
})

describe('Memory.rememberMany', () => {
  it('stores a batch in one go, reports progress, and checks every item before writing', async () => {
    const memory = await open()
    const progress: number[] = []
    const traces = await memory.rememberMany(
      Array.from({ length: 10 }, (_, i) => ({ text: `note number ${i}`, scope: i % 2 ? 'odd' : 'even' })),
      { batchSize: 4, onProgress: (done) => progress.push(done) },
    )
    expect(traces).toHaveLength(10)
    expect(progress).toEqual([4, 8, 10])
    expect(await memory.count('odd')).toBe(5)
    await expectStorageError(memory.rememberMany([{ text: 'fine' }, { text: '' }]), 'INVALID_ARGUMENT')
    expect(await memory.count()).toBe(10)
  })
})

describe('Memory on Postgres', () => {
  it('builds the pgvector index in the background: the first recall past exactBelow does not wait for it', async () => {
    const memory = await open({ storage: await postgresStorage() })
    // PgVectorStore searches exactly below 10,000 records; past that the HNSW index is needed.
    const items = Array.from({ length: 10_050 }, (_, i) => ({ text: `note ${i} on topic ${i % 97}` }))
    await memory.rememberMany(items, { batchSize: 2_000 })
    const store = memory.vectors as PgVectorStore
    expect(await store.indexStatus(memory.collection)).toMatchObject({ present: false, building: false })
    const hits = await memory.recall('note 5 on topic 5', { topK: 3, mode: 'vector' })
    expect(hits).toHaveLength(3)
    // The recall answered exactly and left the build running; building 10,000 vectors takes far longer than this check.
    expect(await store.indexStatus(memory.collection)).toMatchObject({ present: false, building: true })
    await store.buildIndex(memory.collection)
    expect(await store.indexStatus(memory.collection)).toEqual({
      indexable: true,
      present: true,
      building: false,
    })
  })
})

describe('Memory scoping and closing', () => {
  it('forget with a scope leaves a trace of another scope alone', async () => {
    const memory = await open()
    const trace = await memory.remember('belongs to ada', { scope: 'user:ada' })
    expect(await memory.forget(trace.id, { scope: 'user:bob' })).toBe(false)
    expect(await memory.get(trace.id)).toBeDefined()
    expect(await memory.forget(trace.id, { scope: 'user:ada' })).toBe(true)
  })

  it('takes the user and conversation ids ConversationMemory takes, and refuses the ones it refuses', async () => {
    const memory = await open()
    const longest = { userId: 'u'.repeat(256), conversationId: 'c'.repeat(512) }
    await memory.conversations.storeConversationTurn(longest.userId, longest.conversationId, {
      role: 'user',
      content: 'hello',
    })
    const trace = await memory.remember('from a long-named conversation', longest)
    expect(trace.conversationId).toBe(longest.conversationId)
    for (const ids of [
      { userId: 'u'.repeat(257), conversationId: 'c' },
      { userId: 'u', conversationId: 'c'.repeat(513) },
    ]) {
      await expectStorageError(
        memory.conversations.storeConversationTurn(ids.userId, ids.conversationId, { role: 'user' }),
        'INVALID_ARGUMENT',
      )
      await expectStorageError(memory.remember('x', ids), 'INVALID_ARGUMENT')
    }
    expect(await memory.count()).toBe(1)
  })

  it('closes its conversations and fails get() after close()', async () => {
    const memory = await open()
    await memory.close()
    await expectStorageError(memory.get('x'), 'CLOSED')
    await expectStorageError(memory.conversations.listUserConversations('u'), 'CLOSED')
  })
})
