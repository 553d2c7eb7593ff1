import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { ConversationMemory } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { conversationOf, type LoadPlan, runConversationLoad, writerUser } from '../src/conversation-load.js'
import { printFigures, runSeed, scaled } from '../src/figures.js'
import { admin, freshName, PG_URL, requirePostgres } from '../src/pg-env.js'

// A load run: 8 writers and 8 readers at once on one ConversationMemory, on a SQLite file and on
// PostgreSQL, for a fixed number of operations. Zero errors, no torn reads, and a final state
// that holds exactly what every writer wrote, in order.
const FILE = 'load'
const seed = runSeed()
const PLAN: LoadPlan = { writers: 8, readers: 8, operations: scaled(300), conversations: 3, seed }
const folder = mkdtempSync(join(tmpdir(), 'engram-load-'))
const schema = freshName('engram_load')

beforeAll(async () => {
  await requirePostgres()
  await admin(`CREATE SCHEMA ${schema}`)
})

afterAll(async () => {
  rmSync(folder, { recursive: true, force: true })
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

const BACKENDS: ReadonlyArray<[string, () => StorageAdapter]> = [
  [
    'SQLite file (sqlite-native, WAL)',
    () => createSqliteNativeAdapter({ filename: join(folder, 'load.db') }),
  ],
  [
    'PostgreSQL (pool of 10)',
    () => createPostgresAdapter({ connectionString: PG_URL, searchPath: [schema] }),
  ],
]

describe(`ConversationMemory under load: ${PLAN.writers} writers and ${PLAN.readers} readers, ${PLAN.operations} operations each (seed ${seed})`, () => {
  for (const [name, open] of BACKENDS) {
    it(`finishes with zero errors, no torn reads and every turn in order on ${name}`, async () => {
      const adapter = open()
      const memory = new ConversationMemory(adapter)
      try {
        await memory.initialize()
        const result = await runConversationLoad(memory, PLAN)
        expect(result.errors.slice(0, 5)).toEqual([])
        expect(result.torn.slice(0, 5)).toEqual([])
        for (let w = 0; w < PLAN.writers; w++) {
          const user = writerUser(w)
          const conversations = await memory.listUserConversations(user)
          expect(conversations.map((c) => c.conversationId).sort()).toEqual(
            Array.from({ length: PLAN.conversations }, (_, c) => `chat-${c}`),
          )
          for (const conversation of conversations) {
            const turns = await memory.retrieveConversationTurns(user, conversation.conversationId, {
              limit: 100_000,
            })
            const expected = Array.from({ length: PLAN.operations }, (_, i) => i)
              .filter((i) => conversationOf(i, PLAN) === conversation.conversationId)
              .map((i) => `${w}:${i}`)
            expect(turns.map((t) => t.content)).toEqual(expected)
            expect(conversation.lastActivity).toBe(Math.max(...turns.map((t) => t.timestamp)))
          }
        }
        const figures: Record<string, number> = {
          operations: result.latency.store.count + result.latency.retrieve.count + result.latency.list.count,
          errors: result.errors.length,
          tornReads: result.torn.length,
          seconds: result.elapsedMs / 1000,
        }
        for (const [kind, latencies] of Object.entries(result.latency)) {
          figures[`${kind}P50ms`] = latencies.percentile(50)
          figures[`${kind}P99ms`] = latencies.percentile(99)
        }
        printFigures(FILE, name, figures)
      } finally {
        await memory.close()
        await adapter.close()
      }
    })
  }
})
