import { expectStorageError } from '@engram/conformance'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import { allBackends, type TestBackend } from './storage-backends.js'

const T0 = Date.UTC(2025, 0, 1)
/** Strings a driver would store as the same UTF-8 as another string, or that PostgreSQL cannot store. */
const MALFORMED = ['T\uD800', 'T\uDBFF', '\uDC00x', 'a\u0000b']

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true }
  for (let i = 0; i < depth; i++) value = { next: value }
  return value
}

/** Hostile input through every ConversationMemory method, run once per backend. */
function describeConversationInput(backend: TestBackend): void {
  describe(`ConversationMemory input on ${backend.name}`, () => {
    afterEach(() => backend.closeAll())
    afterAll(() => backend.cleanup())

    async function fresh(): Promise<ConversationMemory> {
      const memory = new ConversationMemory((await backend.create()).open())
      await memory.initialize()
      return memory
    }

    async function storedRows(memory: ConversationMemory): Promise<number> {
      const turns = await memory.storage.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM engram_conversation_turns',
      )
      const conversations = await memory.storage.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM engram_conversations',
      )
      return Number(turns?.n) + Number(conversations?.n)
    }

    it('refuses ids that are not well-formed Unicode without NUL, in every method, storing nothing', async () => {
      const memory = await fresh()
      for (const bad of MALFORMED) {
        const calls: Array<() => Promise<unknown>> = [
          () => memory.storeConversationTurn(bad, 'c1', { role: 'user', content: 'x' }),
          () => memory.storeConversationTurn('alice', bad, { role: 'user', content: 'x' }),
          () => memory.storeConversationTurn('alice', 'c1', { role: 'user', storageId: bad }),
          () => memory.storeConversationTurn('alice', 'c1', { role: 'user', agentId: bad }),
          () => memory.storeConversationTurn('alice', 'c1', { role: 'user', content: bad }),
          () => memory.retrieveConversationTurns(bad, 'c1'),
          () => memory.retrieveConversationTurns('alice', bad),
          () => memory.listUserConversations(bad),
          () => memory.listUserConversations('alice', { agentId: bad }),
          () => memory.getConversation(bad, 'c1'),
          () => memory.setConversationPersona(bad, 'c1', 'p'),
          () => memory.setConversationPersona('alice', 'c1', bad),
          () => memory.updateConversation('alice', bad, { title: 't' }),
          () => memory.updateConversation('alice', 'c1', { agentId: bad }),
          () => memory.pruneHistory(bad, 'c1', { keepLast: 0 }),
          () => memory.deleteConversation(bad, 'c1'),
          () => memory.deleteConversation('alice', bad),
          () =>
            memory.importBatch({
              turns: [{ userId: bad, conversationId: 'c1', storageId: 's', role: 'user', timestamp: T0 }],
            }),
          () => memory.importBatch({ conversations: [{ userId: 'alice', conversationId: bad }] }),
        ]
        for (const [i, call] of calls.entries()) {
          const error = await expectStorageError(call(), 'INVALID_ARGUMENT')
          expect(error.message, `call ${i} with ${JSON.stringify(bad)}`).toMatch(/surrogate|NUL/)
        }
      }
      expect(await storedRows(memory)).toBe(0)
    })

    it("keeps 'T\\uFFFD' and 'T' apart, and never lets a lone surrogate reach 'T\\uFFFD''s rows", async () => {
      const memory = await fresh()
      await memory.storeConversationTurn('T\uFFFD', 'c', {
        role: 'user',
        content: 'replacement',
        timestamp: T0,
      })
      await memory.storeConversationTurn('T', 'c', { role: 'user', content: 'plain', timestamp: T0 })
      expect((await memory.retrieveConversationTurns('T', 'c')).map((t) => t.content)).toEqual(['plain'])
      expect((await memory.retrieveConversationTurns('T\uFFFD', 'c')).map((t) => t.content)).toEqual([
        'replacement',
      ])
      // On PostgreSQL 'T\uD800' would be sent as the bytes of 'T\uFFFD': it must never get that far.
      await expectStorageError(memory.retrieveConversationTurns('T\uD800', 'c'), 'INVALID_ARGUMENT')
      await expectStorageError(memory.deleteConversation('T\uD800', 'c'), 'INVALID_ARGUMENT')
      await expectStorageError(memory.pruneHistory('T\uDBFF', 'c', { keepLast: 0 }), 'INVALID_ARGUMENT')
      expect(await memory.deleteConversation('T', 'c')).toBe(true)
      expect((await memory.listUserConversations('T\uFFFD')).map((c) => c.userId)).toEqual(['T\uFFFD'])
      expect(await memory.retrieveConversationTurns('T\uFFFD', 'c')).toHaveLength(1)
    })

    it('refuses timestamps outside a Date, NaN and fractions of a millisecond, storing nothing', async () => {
      const memory = await fresh()
      const bad = [
        1e300,
        -1.79e308,
        8640000000000001,
        -8640000000000001,
        Number.NaN,
        Infinity,
        1.5,
        '1e300',
        '2.5',
      ]
      for (const timestamp of [...bad, new Date(Number.NaN), 'not a date', 'May 2']) {
        const error = await expectStorageError(
          memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: timestamp as number }),
          'INVALID_ARGUMENT',
        )
        expect(error.message).toMatch(/turn\.timestamp/)
        await expectStorageError(
          memory.retrieveConversationTurns('alice', 'c1', { since: timestamp as number }),
          'INVALID_ARGUMENT',
        )
        await expectStorageError(
          memory.pruneHistory('alice', 'c1', { olderThan: timestamp as number }),
          'INVALID_ARGUMENT',
        )
        await expectStorageError(
          memory.importBatch({
            conversations: [{ userId: 'alice', conversationId: 'c', createdAt: timestamp as number }],
          }),
          'INVALID_ARGUMENT',
        )
      }
      expect(await storedRows(memory)).toBe(0)
      // The edges of a Date's range are fine, and read back exactly.
      for (const timestamp of [8.64e15, -8.64e15, 0]) {
        await memory.storeConversationTurn('alice', `edge${timestamp}`, { role: 'user', timestamp })
        const [turn] = await memory.retrieveConversationTurns('alice', `edge${timestamp}`)
        expect(turn?.timestamp).toBe(timestamp)
      }
    })

    it('refuses metadata and tool calls that JSON would change or cannot hold, storing nothing', async () => {
      const memory = await fresh()
      const cycle: Record<string, unknown> = { a: 1 }
      cycle.again = { back: cycle }
      const holes: unknown[] = [1]
      holes[2] = 3 // index 1 stays a hole
      const cases: Array<[unknown, RegExp]> = [
        [new Map([['k', 'v']]), /a Map/],
        [new Set([1]), /a Set/],
        [new Date(T0), /a Date/],
        [new Point(1, 2), /an instance of Point/],
        [{ nested: new Map() }, /metadata\.nested is a Map/],
        [{ when: new Date(T0) }, /metadata\.when is a Date/],
        [{ point: new Point(1, 2) }, /metadata\.point is an instance of Point/],
        [cycle, /cycle/],
        [{ f: () => 1 }, /metadata\.f is a function/],
        [{ gone: undefined }, /metadata\.gone is undefined/],
        [{ list: [1, undefined] }, /metadata\.list\[1\] is undefined/],
        [{ list: holes }, /hole/],
        [{ [Symbol('s')]: 1 }, /symbol keys/],
        [{ n: 10n }, /bigint/],
        [{ n: Number.NaN }, /NaN/],
        [nested(10_000), /nested more than 100 levels/],
        ['a string', /plain object/],
        [[1, 2], /plain object/],
      ]
      for (const [metadata, message] of cases) {
        const error = await expectStorageError(
          memory.storeConversationTurn('alice', 'c1', { role: 'user', metadata: metadata as never }),
          'INVALID_ARGUMENT',
        )
        expect(error.message).toMatch(message)
      }
      for (const [toolCalls] of cases.slice(0, 16)) {
        await expectStorageError(
          memory.storeConversationTurn('alice', 'c1', { role: 'assistant', tool_calls: toolCalls }),
          'INVALID_ARGUMENT',
        )
      }
      expect(await storedRows(memory)).toBe(0)
    })

    it('stores what JSON holds exactly: shared branches, null prototypes, deep but bounded nesting', async () => {
      const memory = await fresh()
      const shared = { x: [1, 2] }
      const bare = Object.assign(Object.create(null), { kind: 'bare' })
      const metadata = { a: shared, b: shared, bare, deep: nested(90), text: 'T\uFFFD 🎉', empty: {} }
      await memory.storeConversationTurn('alice', 'c1', {
        role: 'user',
        metadata,
        tool_calls: [shared, null],
      })
      const [turn] = await memory.retrieveConversationTurns('alice', 'c1')
      expect(turn?.metadata).toEqual(JSON.parse(JSON.stringify(metadata)))
      expect(turn?.tool_calls).toEqual([{ x: [1, 2] }, null])
    })

    it('refuses options, turns and updates that are not plain objects, instead of ignoring them', async () => {
      const memory = await fresh()
      const calls: Array<() => Promise<unknown>> = [
        () => memory.retrieveConversationTurns('alice', 'c1', 'desc' as never),
        () => memory.retrieveConversationTurns('alice', 'c1', 5 as never),
        () => memory.retrieveConversationTurns('alice', 'c1', null as never),
        () => memory.retrieveConversationTurns('alice', 'c1', [] as never),
        () => memory.listUserConversations('alice', 'x' as never),
        () => memory.listUserConversations('alice', 20 as never),
        () => memory.pruneHistory('alice', 'c1', 'keep 3' as never),
        () => memory.pruneHistory('alice', 'c1', 3 as never),
        () => memory.updateConversation('alice', 'c1', 'title' as never),
        () => memory.updateConversation('alice', 'c1', new Map() as never),
        () => memory.storeConversationTurn('alice', 'c1', 'hello' as never),
        () => memory.storeConversationTurn('alice', 'c1', [{ role: 'user' }] as never),
        () => memory.storeConversationTurn('alice', 'c1', new Point(1, 2) as never),
        () => memory.importBatch('turns' as never),
        () => memory.importBatch({ turns: 'x' as never }),
        () => memory.importBatch({ conversations: { userId: 'a' } as never }),
      ]
      for (const [i, call] of calls.entries()) {
        const error = await expectStorageError(call(), 'INVALID_ARGUMENT')
        expect(error.message, `call ${i}`).toMatch(/object|array/)
      }
      expect(() => new ConversationMemory(memory.storage, 'close' as never)).toThrow(
        /config must be an object/,
      )
      expect(() => new ConversationMemory(memory.storage, { closeAdapter: 'true' as never })).toThrow(
        /closeAdapter must be true or false, got "true"/,
      )
      expect(await storedRows(memory)).toBe(0)
    })

    it('refuses non-integers where whole numbers are meant', async () => {
      const memory = await fresh()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0 })
      const calls: Array<() => Promise<unknown>> = [
        () => memory.retrieveConversationTurns('alice', 'c1', { limit: 2.5 }),
        () => memory.retrieveConversationTurns('alice', 'c1', { offset: '5' as never }),
        () => memory.retrieveConversationTurns('alice', 'c1', { limit: 1e300 }),
        () => memory.listUserConversations('alice', { offset: 0.5 }),
        () => memory.pruneHistory('alice', 'c1', { keepLast: 1.5 }),
        () => memory.pruneHistory('alice', 'c1', { keepLast: Number.NaN }),
        () => memory.storeConversationTurn('alice', 'c1', { role: 'user', usage: { prompt_tokens: 1.5 } }),
        () => memory.storeConversationTurn('alice', 'c1', { role: 'user', usage: { total_tokens: 1e300 } }),
      ]
      for (const call of calls) await expectStorageError(call(), 'INVALID_ARGUMENT')
      expect(await memory.retrieveConversationTurns('alice', 'c1')).toHaveLength(1)
    })
  })
}

for (const backend of allBackends()) describeConversationInput(backend)
