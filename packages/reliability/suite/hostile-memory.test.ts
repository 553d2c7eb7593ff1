import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { ConversationMemory, Memory, TURNS_TABLE } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures } from '../src/figures.js'
import { attempt, FTS_SYNTAX, HOSTILE_NUMBERS, HOSTILE_STRINGS, shown, Tally } from '../src/hostile-values.js'
import { admin, freshName, PG_URL, requirePostgres } from '../src/pg-env.js'

// The hostile corpus on the memory layer, on a SQLite file and on PostgreSQL: user, conversation,
// storage, agent and document ids, scopes, tags, text, metadata keys and values, timestamps,
// options of the wrong type, recall queries and filters. Each call is refused with
// INVALID_ARGUMENT and stores nothing, or what it stored comes back exactly.
const FILE = 'hostile-memory'
const folder = mkdtempSync(join(tmpdir(), 'engram-hostile-'))
const schema = freshName('engram_hostile')

beforeAll(async () => {
  await requirePostgres()
  await admin(`CREATE SCHEMA ${schema}`)
})

afterAll(async () => {
  rmSync(folder, { recursive: true, force: true })
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

const BACKENDS: ReadonlyArray<[string, () => StorageAdapter]> = [
  ['SQLite', () => createSqliteNativeAdapter({ filename: join(folder, 'hostile.db') })],
  ['PostgreSQL', () => createPostgresAdapter({ connectionString: PG_URL, searchPath: [schema, 'public'] })],
]

class Cycle {
  self: unknown = this
}

/** Values no JSON column can hold as they are: each must be refused, not stored changed. */
const NOT_JSON: ReadonlyArray<[string, unknown]> = [
  ['a Map', new Map([['a', 1]])],
  ['a Set', new Set([1])],
  ['a Date', new Date(0)],
  ['a class instance', new Cycle()],
  [
    'a cycle',
    (() => {
      const o: Record<string, unknown> = {}
      o.o = o
      return o
    })(),
  ],
  ['a function', { f: () => 1 }],
  ['an undefined value', { u: undefined }],
  ['a bigint', { b: 1n }],
  ['a symbol', { s: Symbol('s') }],
  ['NaN', { n: Number.NaN }],
  ['Infinity', { n: Number.POSITIVE_INFINITY }],
]

async function turnCount(db: StorageAdapter): Promise<number> {
  return Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${TURNS_TABLE}`))?.n)
}

describe('hostile input on ConversationMemory', () => {
  for (const [backend, open] of BACKENDS) {
    it(`${backend}: ids, text, metadata, timestamps and options are refused with INVALID_ARGUMENT or returned exactly`, async () => {
      const db = open()
      const memory = new ConversationMemory(db)
      const tally = new Tally()
      try {
        await memory.initialize()
        for (const [label, value] of HOSTILE_STRINGS) {
          const where = `${label} (${shown(value)})`
          for (const [part, user, conversation] of [
            ['userId', value, 'c'],
            ['conversationId', 'u', value],
          ] as const) {
            const before = await turnCount(db)
            const stored = tally.add(
              await attempt(`${part} ${where}`, () =>
                memory.storeConversationTurn(user, conversation, { role: 'user', content: 'hello' }),
              ),
            )
            if (stored.ok) {
              const turns = await memory.retrieveConversationTurns(user, conversation)
              expect(
                turns.map((t) => [t.userId, t.conversationId, t.storageId]),
                `${part} ${where}`,
              ).toEqual([[user, conversation, stored.value]])
              expect((await memory.listUserConversations(user)).map((c) => c.conversationId)).toContain(
                conversation,
              )
              expect(await memory.deleteConversation(user, conversation)).toBe(true)
            }
            expect(await turnCount(db), `${part} ${where}: nothing left behind`).toBe(before)
          }
          const fields = [
            ['storageId', { storageId: value }],
            ['content', { content: value }],
            ['metadata key', { metadata: { [value]: 1 } }],
            ['metadata value', { metadata: { k: value, list: [value] } }],
            ['model', { model: value }],
            ['agentId', { agentId: value }],
          ] as const
          for (const [part, extra] of fields) {
            const before = await turnCount(db)
            const stored = tally.add(
              await attempt(`${part} ${where}`, () =>
                memory.storeConversationTurn('u', 'fields', { role: 'assistant', ...extra }),
              ),
            )
            if (stored.ok) {
              const [turn] = await memory.retrieveConversationTurns('u', 'fields')
              if ('storageId' in extra) expect(turn?.storageId).toBe(value)
              if ('content' in extra) expect(turn?.content).toBe(value)
              if ('model' in extra) expect(turn?.model).toBe(value)
              if ('agentId' in extra) expect(turn?.agentId).toBe(value)
              if ('metadata' in extra) {
                expect(turn?.metadata, `${part} ${where}`).toEqual(extra.metadata)
                for (const key of Object.keys(extra.metadata))
                  expect(Object.hasOwn(turn?.metadata ?? {}, key)).toBe(true)
              }
              await memory.deleteConversation('u', 'fields')
            }
            expect(await turnCount(db), `${part} ${where}: nothing left behind`).toBe(before)
          }
          const persona = tally.add(
            await attempt(`persona ${where}`, () => memory.setConversationPersona('u', 'p', value)),
          )
          if (persona.ok) {
            expect((await memory.getConversation('u', 'p'))?.persona).toBe(value)
            await memory.deleteConversation('u', 'p')
          }
          const titled = tally.add(
            await attempt(`title ${where}`, () => memory.updateConversation('u', 't', { title: value })),
          )
          if (titled.ok) {
            expect((await memory.getConversation('u', 't'))?.title).toBe(value)
            await memory.deleteConversation('u', 't')
          }
          tally.add(
            await attempt(`agentId filter ${where}`, () =>
              memory.listUserConversations('u', { agentId: value }),
            ),
          )
          tally.add(
            await attempt(`since ${where}`, () =>
              memory.retrieveConversationTurns('u', 'c', { since: value }),
            ),
          )
        }

        for (const [label, value] of HOSTILE_NUMBERS) {
          const before = await turnCount(db)
          const stored = tally.add(
            await attempt(`timestamp ${label}`, () =>
              memory.storeConversationTurn('u', 'time', { role: 'user', content: 'x', timestamp: value }),
            ),
          )
          if (stored.ok) {
            const [turn] = await memory.retrieveConversationTurns('u', 'time')
            expect(turn?.timestamp === value, `timestamp ${label} came back as ${turn?.timestamp}`).toBe(true)
            await memory.deleteConversation('u', 'time')
          }
          expect(await turnCount(db), `timestamp ${label}: nothing left behind`).toBe(before)
          for (const option of ['limit', 'offset'] as const) {
            tally.add(
              await attempt(`${option} ${label}`, () =>
                memory.retrieveConversationTurns('u', 'c', { [option]: value }),
              ),
            )
          }
          tally.add(
            await attempt(`keepLast ${label}`, () => memory.pruneHistory('u', 'c', { keepLast: value })),
          )
        }

        for (const [label, value] of NOT_JSON) {
          const before = await turnCount(db)
          const refused = await attempt(`metadata as ${label}`, () =>
            memory.storeConversationTurn('u', 'json', {
              role: 'user',
              content: 'x',
              metadata: value as Record<string, unknown>,
            }),
          )
          tally.add(refused)
          expect(refused.ok, `metadata as ${label} must be refused`).toBe(false)
          expect(
            await memory.getConversation('u', 'json'),
            `metadata as ${label}: no conversation created`,
          ).toBeUndefined()
          expect(await turnCount(db)).toBe(before)
        }

        for (const [label, options] of [
          ['a string', 'limit=5'],
          ['a number', 5],
          ['an array', [5]],
          ['true', true],
        ] as const) {
          const calls: Array<[string, () => Promise<unknown>]> = [
            ['retrieveConversationTurns', () => memory.retrieveConversationTurns('u', 'c', options as never)],
            ['listUserConversations', () => memory.listUserConversations('u', options as never)],
            ['pruneHistory', () => memory.pruneHistory('u', 'c', options as never)],
            ['storeConversationTurn', () => memory.storeConversationTurn('u', 'c', options as never)],
            ['updateConversation', () => memory.updateConversation('u', 'c', options as never)],
          ]
          for (const [method, call] of calls) {
            const refused = tally.add(await attempt(`${method} with options as ${label}`, call))
            expect(refused.ok, `${method} with options as ${label} must be refused`).toBe(false)
          }
        }
        expect(await memory.getConversation('u', 'c')).toBeUndefined()

        // 'T' and 'T\uFFFD' are two users; lone surrogates are refused, so they can never collide.
        await memory.storeConversationTurn('T', 'shared', { role: 'user', content: 'mine' })
        await memory.storeConversationTurn('T\uFFFD', 'shared', { role: 'user', content: 'theirs' })
        expect((await memory.retrieveConversationTurns('T', 'shared')).map((t) => t.content)).toEqual([
          'mine',
        ])
        expect((await memory.retrieveConversationTurns('T\uFFFD', 'shared')).map((t) => t.content)).toEqual([
          'theirs',
        ])
        for (const lone of ['T\uD800', 'T\uDBFF', '\uDFFFT']) {
          const calls: Array<() => Promise<unknown>> = [
            () => memory.retrieveConversationTurns(lone, 'shared'),
            () => memory.deleteConversation(lone, 'shared'),
            () => memory.listUserConversations(lone),
          ]
          for (const call of calls) {
            const refused = await attempt(`user ${shown(lone)}`, call)
            expect(refused.ok, `user ${shown(lone)} must be refused`).toBe(false)
          }
        }
        expect(await memory.retrieveConversationTurns('T', 'shared')).toHaveLength(1)
      } finally {
        await memory.close()
        await db.close()
      }
      printFigures(FILE, `ConversationMemory on ${backend}`, {
        accepted: tally.accepted,
        refusedWithInvalidArgument: tally.refused,
        otherErrors: 0,
        partialWrites: 0,
      })
    })
  }
})

describe('hostile input on Memory', () => {
  for (const [backend, open] of BACKENDS) {
    it(`${backend}: texts, scopes, tags, metadata, ids, queries and filters are refused with INVALID_ARGUMENT or returned exactly`, async () => {
      const db = open()
      const memory = await Memory.open({
        storage: db,
        collection: backend === 'SQLite' ? 'hostile' : freshName('hostile'),
      })
      const tally = new Tally()
      try {
        for (const [label, value] of HOSTILE_STRINGS) {
          const where = `${label} (${shown(value)})`
          const variants = [
            ['text', () => memory.remember(value)],
            ['scope', () => memory.remember('a scoped note', { scope: value })],
            ['tag', () => memory.remember('a tagged note', { tags: [value] })],
            ['metadata key', () => memory.remember('a keyed note', { metadata: { [value]: 1 } })],
            ['metadata value', () => memory.remember('a valued note', { metadata: { k: value } })],
            ['type', () => memory.remember('a typed note', { type: value })],
            ['userId', () => memory.remember('a linked note', { userId: value, conversationId: 'c' })],
            [
              'conversationId',
              () => memory.remember('a linked note', { userId: 'u', conversationId: value }),
            ],
          ] as const
          for (const [part, call] of variants) {
            const before = await memory.count()
            const remembered = tally.add(await attempt(`remember ${part} ${where}`, call))
            if (remembered.ok) {
              const trace = remembered.value
              const got = await memory.get(trace.id)
              expect(got, `${part} ${where}`).toEqual(trace)
              if (part === 'text') expect(got?.text).toBe(value)
              if (part === 'scope') {
                const hits = await memory.recall('a scoped note', { scope: value, mode: 'vector' })
                expect(
                  hits.map((h) => h.trace.id),
                  where,
                ).toEqual([trace.id])
              }
              if (part === 'tag') {
                const hits = await attempt(`recall by a tag remember accepted, ${where}`, () =>
                  memory.recall('a tagged note', { tag: value, mode: 'vector' }),
                )
                expect(hits.ok, `recall refuses the tag ${where} that remember stored`).toBe(true)
                if (hits.ok)
                  expect(
                    hits.value.map((h) => h.trace.id),
                    where,
                  ).toContain(trace.id)
              }
              expect(await memory.forget(trace.id)).toBe(true)
            }
            expect(await memory.count(), `remember ${part} ${where}: nothing left behind`).toBe(before)
          }
          tally.add(await attempt(`recall query ${where}`, () => memory.recall(value)))
          tally.add(
            await attempt(`recall filter field ${where}`, () =>
              memory.recall('note', { filter: { [value]: 1 } }),
            ),
          )
          tally.add(
            await attempt(`recall filter value ${where}`, () =>
              memory.recall('note', { filter: { k: value } }),
            ),
          )
          const forgot = tally.add(await attempt(`forget ${where}`, () => memory.forget(value)))
          if (forgot.ok) expect(forgot.value).toBe(false)
          const ingested = tally.add(
            await attempt(`document id ${where}`, () => memory.ingest({ id: value, text: 'a document' })),
          )
          if (ingested.ok) {
            expect(ingested.value.documentId).toBe(value)
            expect(await memory.forgetDocument(value)).toBe(ingested.value.chunks.length)
          }
          const saved = tally.add(
            await attempt(`agent id ${where}`, () => memory.state.save(value, { v: value })),
          )
          if (saved.ok) {
            expect(await memory.state.load(value)).toEqual({ v: value })
            await memory.state.clear(value)
          }
          const state = tally.add(
            await attempt(`state key ${where}`, () => memory.state.save('agent', { [value]: value })),
          )
          if (state.ok) {
            const loaded = (await memory.state.load('agent')) as Record<string, unknown>
            expect(loaded, where).toEqual({ [value]: value })
            expect(Object.hasOwn(loaded, value)).toBe(true)
          }
          const entity = tally.add(
            await attempt(`entity ${where}`, () => memory.graph.addEntity({ id: value, name: value })),
          )
          if (entity.ok) {
            expect((await memory.graph.getEntity(value))?.name).toBe(value)
            await memory.graph.removeEntity(value)
          }
        }
        for (const text of FTS_SYNTAX) {
          await memory.remember(`a note that mentions ${text}`)
          for (const mode of ['text', 'hybrid'] as const) {
            tally.add(
              await attempt(`${mode} recall ${JSON.stringify(text)}`, () => memory.recall(text, { mode })),
            )
          }
        }
        for (const [label, value] of HOSTILE_NUMBERS) {
          const before = await memory.count()
          const remembered = tally.add(
            await attempt(`metadata number ${label}`, () => memory.remember('n', { metadata: { n: value } })),
          )
          if (remembered.ok) {
            expect((await memory.get(remembered.value.id))?.metadata.n === value, label).toBe(true)
            await memory.forget(remembered.value.id)
          }
          expect(await memory.count()).toBe(before)
          tally.add(await attempt(`topK ${label}`, () => memory.recall('n', { topK: value })))
        }
        for (const [label, value] of NOT_JSON) {
          const refused = tally.add(
            await attempt(`agent state as ${label}`, () => memory.state.save('json', value)),
          )
          expect(refused.ok, `agent state as ${label} must be refused`).toBe(false)
          expect(await memory.state.load('json')).toBeUndefined()
        }
        // Two scopes that differ only after a lone surrogate's replacement never meet.
        const mine = await memory.remember('isolation probe', { scope: 'T' })
        await memory.remember('isolation probe', { scope: 'T\uFFFD' })
        expect(
          (await memory.recall('isolation probe', { scope: 'T', mode: 'vector' })).map((h) => h.trace.id),
        ).toEqual([mine.id])
        const lone = await attempt('scope T\\uD800', () =>
          memory.recall('isolation probe', { scope: 'T\uD800' }),
        )
        expect(lone.ok).toBe(false)
      } finally {
        await memory.close()
        await db.close()
      }
      printFigures(FILE, `Memory on ${backend}`, {
        accepted: tally.accepted,
        refusedWithInvalidArgument: tally.refused,
        otherErrors: 0,
        partialWrites: 0,
      })
    })
  }
})
