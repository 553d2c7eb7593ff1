import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectStorageError } from '@engram/conformance'
import { isWellFormed, type StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'
import { PG_URL } from './storage-backends.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-memory-input-'))
let files = 0
const opened: Memory[] = []
const adapters: StorageAdapter[] = []
const schemas: string[] = []
let admin: StorageAdapter | undefined

afterEach(async () => {
  for (const memory of opened.splice(0)) await memory.close().catch(() => undefined)
  for (const adapter of adapters.splice(0)) await adapter.close().catch(() => undefined)
})
afterAll(async () => {
  if (admin) {
    for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  }
  rmSync(folder, { recursive: true, force: true })
})

const embed = createLocalEmbedder({ dimensions: 32 })
const MALFORMED = ['T\uD800', 'T\uDBFF', '\uDC00', 'a\u0000b']

const setups: Array<{ name: string; open: () => Promise<Memory> }> = [
  {
    name: 'SQLite',
    open: async () => Memory.open({ path: join(folder, `memory-${++files}.db`), embed }),
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
      const schema = `engram_minput_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
      await admin.exec(`CREATE SCHEMA ${schema}`)
      schemas.push(schema)
      const storage = createPostgresAdapter({
        connectionString: PG_URL,
        searchPath: [schema, 'public'],
        max: 4,
      })
      adapters.push(storage)
      return Memory.open({ storage, embed })
    },
  },
]

for (const setup of setups) {
  describe(`Memory input on ${setup.name}`, () => {
    async function open(): Promise<Memory> {
      const memory = await setup.open()
      opened.push(memory)
      return memory
    }

    it('refuses keys that are not well-formed Unicode without NUL in every Memory API, storing nothing', async () => {
      const memory = await open()
      const kept = await memory.remember('kept note', { scope: 'T\uFFFD' })
      for (const bad of MALFORMED) {
        const calls: Array<() => Promise<unknown>> = [
          () => memory.remember('x', { scope: bad }),
          () => memory.remember('x', { type: bad }),
          () => memory.remember('x', { tags: [bad] }),
          () => memory.remember('x', { userId: bad, conversationId: 'c' }),
          () => memory.remember('x', { userId: 'u', conversationId: bad }),
          () => memory.remember(`text ${bad}`),
          () => memory.rememberMany([{ text: 'fine' }, { text: 'x', scope: bad }]),
          () => memory.recall('kept', { scope: bad }),
          () => memory.recall('kept', { tag: bad }),
          () => memory.recall(`kept ${bad}`),
          () => memory.forget(bad),
          () => memory.forget(kept.id, { scope: bad }),
          () => memory.get(bad),
          () => memory.count(bad),
          () => memory.ingest({ id: bad, text: 'a document' }),
          () => memory.ingest({ text: 'a document', title: bad }),
          () => memory.forgetDocument(bad),
          () => memory.graph.addEntity({ id: bad, name: 'n' }),
          () => memory.graph.addEntity({ name: bad }),
          () => memory.graph.getEntity(bad),
          () => memory.graph.findEntities(bad),
          () => memory.graph.removeEntity(bad),
          () => memory.graph.addRelation('a', bad, 'knows'),
          () => memory.graph.removeRelation('a', 'b', bad),
          () => memory.graph.neighbors(bad),
          () => memory.state.save(bad, { turn: 1 }),
          () => memory.state.load(bad),
          () => memory.state.clear(bad),
        ]
        for (const [i, call] of calls.entries()) {
          const error = await expectStorageError(call(), 'INVALID_ARGUMENT')
          expect(error.message, `call ${i} with ${JSON.stringify(bad)}`).toMatch(/surrogate|NUL/)
        }
      }
      expect(await memory.count()).toBe(1)
      expect((await memory.vectors.count(memory.collection)) as number).toBe(1)
    })

    it("keeps the scopes 'T\\uFFFD' and 'T' apart in recall, count and forget", async () => {
      const memory = await open()
      const replacement = await memory.remember('the replacement character scope', { scope: 'T\uFFFD' })
      const plain = await memory.remember('the plain scope', { scope: 'T' })
      expect((await memory.recall('scope', { scope: 'T' })).map((hit) => hit.trace.id)).toEqual([plain.id])
      expect((await memory.recall('scope', { scope: 'T\uFFFD' })).map((hit) => hit.trace.id)).toEqual([
        replacement.id,
      ])
      expect(await memory.count('T')).toBe(1)
      expect(await memory.forget(replacement.id, { scope: 'T' })).toBe(false)
      expect(await memory.get(replacement.id)).toBeDefined()
    })

    it('refuses options that are not plain objects, instead of ignoring them', async () => {
      const memory = await open()
      const calls: Array<() => Promise<unknown>> = [
        () => memory.remember('x', 'scope' as never),
        () => memory.remember('x', 5 as never),
        () => memory.rememberMany([{ text: 'x' }], 'fast' as never),
        () => memory.rememberMany(['text' as never]),
        () => memory.rememberMany([{ text: 'x' }], { batchSize: 0 }),
        () => memory.rememberMany([{ text: 'x' }], { batchSize: 2.5 }),
        () => memory.recall('x', 'hybrid' as never),
        () => memory.recall('x', { mode: 'fuzzy' as never }),
        () => memory.forget('id', 'scope' as never),
        () => memory.ingest('a document', 7 as never),
        () => memory.ingest({ text: 'a document' }, { batchSize: -1 }),
        () => memory.graph.neighbors('a', 'deep' as never),
        () => memory.graph.addRelation('a', 'b', 'knows', 'strong' as never),
        () => memory.graph.addEntity('ada' as never),
        () => Memory.open('memory.db' as never),
        () => Memory.open({ storage: memory.storage, vectors: 'pgvector' as never }),
      ]
      for (const [i, call] of calls.entries())
        await expectStorageError(call(), 'INVALID_ARGUMENT').catch((error) => {
          throw new Error(`call ${i}: ${(error as Error).message}`)
        })
      expect(await memory.count()).toBe(0)
    })

    it('refuses graph properties and agent state that JSON would change, storing nothing', async () => {
      const memory = await open()
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      for (const bad of [
        new Map([['a', 1]]),
        new Date(0),
        { when: new Date(0) },
        cycle,
        { gone: undefined },
      ]) {
        await expectStorageError(memory.state.save('agent', bad), 'INVALID_ARGUMENT')
        if (typeof bad === 'object' && Object.getPrototypeOf(bad) === Object.prototype) {
          await expectStorageError(
            memory.graph.addEntity({ id: 'e', name: 'n', properties: bad as Record<string, unknown> }),
            'INVALID_ARGUMENT',
          )
        }
      }
      await expectStorageError(
        memory.graph.addEntity({ id: 'e', name: 'n', properties: new Map() as never }),
        'INVALID_ARGUMENT',
      )
      expect(await memory.state.load('agent')).toBeUndefined()
      expect(await memory.graph.getEntity('e')).toBeUndefined()
      await memory.state.save('agent', { list: [1, 'two', null], nested: { ok: true } })
      expect(await memory.state.load('agent')).toEqual({ list: [1, 'two', null], nested: { ok: true } })
    })

    it('cuts documents without splitting a surrogate pair, so emoji-only text ingests', async () => {
      const memory = await open()
      const text = '🎉'.repeat(300)
      const { chunks } = await memory.ingest(text, { chunkSize: 7, overlap: 2 })
      expect(chunks.length).toBeGreaterThan(10)
      for (const chunk of chunks) expect(isWellFormed(chunk.text)).toBe(true)
    })
  })
}
