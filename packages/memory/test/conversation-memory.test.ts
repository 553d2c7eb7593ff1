import { expectStorageError } from '@engram/conformance'
import { StorageError } from '@engram/core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import type { ConversationTurn } from '../src/memory-adapter.js'
import { allBackends, type TestBackend, type TestDatabase } from './storage-backends.js'

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0)

/** The whole ConversationMemory contract, run once per backend. */
function describeConversationMemory(backend: TestBackend): void {
  describe(`ConversationMemory on ${backend.name}`, () => {
    afterEach(() => backend.closeAll())
    afterAll(() => backend.cleanup())

    async function fresh(): Promise<{ memory: ConversationMemory; db: TestDatabase }> {
      const db = await backend.create()
      const memory = new ConversationMemory(db.open())
      await memory.initialize()
      return { memory, db }
    }

    async function storeMany(memory: ConversationMemory, user: string, conversation: string, count: number) {
      const ids: string[] = []
      for (let i = 0; i < count; i++) {
        ids.push(
          await memory.storeConversationTurn(user, conversation, {
            role: i % 2 === 0 ? 'user' : 'assistant',
            content: `turn ${i}`,
            timestamp: T0 + i * 1000,
          }),
        )
      }
      return ids
    }

    it('stores a turn and reads back every field', async () => {
      const { memory } = await fresh()
      const turn: ConversationTurn = {
        role: 'assistant',
        content: 'It is sunny.',
        timestamp: T0,
        agentId: 'weather-bot',
        model: 'gpt-x',
        usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'forecast', arguments: '{"city":"Oslo"}' } },
        ],
        tool_call_id: 'call_0',
        metadata: { source: 'test', nested: { list: [1, 'two', true, null] } },
        summary: 'weather answer',
      }
      const storageId = await memory.storeConversationTurn('alice', 'c1', turn)
      expect(typeof storageId).toBe('string')
      expect(storageId.length).toBeGreaterThan(0)
      const [stored, ...rest] = await memory.retrieveConversationTurns('alice', 'c1')
      expect(rest).toEqual([])
      expect(stored).toEqual({
        storageId,
        userId: 'alice',
        conversationId: 'c1',
        role: 'assistant',
        content: 'It is sunny.',
        timestamp: T0,
        agentId: 'weather-bot',
        model: 'gpt-x',
        usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
        tool_calls: turn.tool_calls,
        tool_call_id: 'call_0',
        metadata: turn.metadata,
        summary: 'weather answer',
      })
    })

    it('fills unset fields with null and the timestamp with now', async () => {
      const { memory } = await fresh()
      const before = Date.now()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user' })
      const after = Date.now()
      const [stored] = await memory.retrieveConversationTurns('alice', 'c1')
      expect(stored).toMatchObject({
        content: null,
        agentId: null,
        model: null,
        usage: null,
        tool_calls: null,
        tool_call_id: null,
        metadata: null,
        summary: null,
      })
      expect(stored?.timestamp).toBeGreaterThanOrEqual(before)
      expect(stored?.timestamp).toBeLessThanOrEqual(after)
    })

    it('takes timestamps as milliseconds, ISO strings or Dates and returns milliseconds', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', content: 'a', timestamp: T0 })
      await memory.storeConversationTurn('alice', 'c1', {
        role: 'user',
        content: 'b',
        timestamp: new Date(T0 + 1000).toISOString(),
      })
      await memory.storeConversationTurn('alice', 'c1', {
        role: 'user',
        content: 'c',
        timestamp: new Date(T0 + 2000),
      })
      const turns = await memory.retrieveConversationTurns('alice', 'c1')
      expect(turns.map((t) => [t.content, t.timestamp])).toEqual([
        ['a', T0],
        ['b', T0 + 1000],
        ['c', T0 + 2000],
      ])
    })

    it('creates the conversation on the first turn and moves its last activity forward', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0, agentId: 'a1' })
      expect(await memory.getConversation('alice', 'c1')).toEqual({
        conversationId: 'c1',
        userId: 'alice',
        agentId: 'a1',
        createdAt: T0,
        lastActivity: T0,
        title: null,
        summary: null,
        persona: null,
      })
      await memory.storeConversationTurn('alice', 'c1', { role: 'assistant', timestamp: T0 + 5000 })
      expect(await memory.getConversation('alice', 'c1')).toMatchObject({
        agentId: 'a1',
        createdAt: T0,
        lastActivity: T0 + 5000,
      })
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0 + 9000, agentId: 'a2' })
      expect(await memory.getConversation('alice', 'c1')).toMatchObject({
        agentId: 'a2',
        lastActivity: T0 + 9000,
      })
      // A late-arriving older turn never moves last activity back.
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0 + 1 })
      expect((await memory.getConversation('alice', 'c1'))?.lastActivity).toBe(T0 + 9000)
    })

    it('keeps turns with equal timestamps in the order they were stored', async () => {
      const { memory } = await fresh()
      const ids: string[] = []
      for (let i = 0; i < 25; i++) {
        ids.push(
          await memory.storeConversationTurn('alice', 'c1', { role: 'user', content: `${i}`, timestamp: T0 }),
        )
      }
      const asc = await memory.retrieveConversationTurns('alice', 'c1')
      expect(asc.map((t) => t.storageId)).toEqual(ids)
      const desc = await memory.retrieveConversationTurns('alice', 'c1', { order: 'desc' })
      expect(desc.map((t) => t.storageId)).toEqual([...ids].reverse())
    })

    it('orders by timestamp even when turns arrive out of order', async () => {
      const { memory } = await fresh()
      for (const offset of [3, 1, 2]) {
        await memory.storeConversationTurn('alice', 'c1', {
          role: 'user',
          content: `${offset}`,
          timestamp: T0 + offset,
        })
      }
      const turns = await memory.retrieveConversationTurns('alice', 'c1')
      expect(turns.map((t) => t.content)).toEqual(['1', '2', '3'])
    })

    it('returns 50 turns by default, and pages with limit and offset in either order', async () => {
      const { memory } = await fresh()
      const ids = await storeMany(memory, 'alice', 'c1', 60)
      const first = await memory.retrieveConversationTurns('alice', 'c1')
      expect(first.map((t) => t.storageId)).toEqual(ids.slice(0, 50))
      const page = await memory.retrieveConversationTurns('alice', 'c1', { limit: 5, offset: 10 })
      expect(page.map((t) => t.storageId)).toEqual(ids.slice(10, 15))
      const newest = await memory.retrieveConversationTurns('alice', 'c1', { limit: 3, order: 'desc' })
      expect(newest.map((t) => t.storageId)).toEqual([ids[59], ids[58], ids[57]])
      expect(await memory.retrieveConversationTurns('alice', 'c1', { limit: 0 })).toEqual([])
      expect(await memory.retrieveConversationTurns('alice', 'c1', { offset: 60 })).toEqual([])
    })

    it('filters by since (inclusive) and by roles', async () => {
      const { memory } = await fresh()
      const ids = await storeMany(memory, 'alice', 'c1', 6)
      await memory.storeConversationTurn('alice', 'c1', {
        role: 'tool',
        content: 'result',
        timestamp: T0 + 10_000,
      })
      const since = await memory.retrieveConversationTurns('alice', 'c1', { since: T0 + 3000 })
      expect(since.map((t) => t.timestamp)).toEqual([T0 + 3000, T0 + 4000, T0 + 5000, T0 + 10_000])
      const sinceIso = await memory.retrieveConversationTurns('alice', 'c1', {
        since: new Date(T0 + 4000).toISOString(),
      })
      expect(sinceIso).toHaveLength(3)
      const assistant = await memory.retrieveConversationTurns('alice', 'c1', { roles: ['assistant'] })
      expect(assistant.map((t) => t.storageId)).toEqual([ids[1], ids[3], ids[5]])
      const mixed = await memory.retrieveConversationTurns('alice', 'c1', {
        roles: ['tool', 'user'],
        since: T0 + 2000,
      })
      expect(mixed.map((t) => t.role)).toEqual(['user', 'user', 'tool'])
      expect(await memory.retrieveConversationTurns('alice', 'c1', { roles: [] })).toEqual([])
    })

    it('filters by before (exclusive) to page back in time, and by agent', async () => {
      const { memory } = await fresh()
      for (let i = 0; i < 6; i++) {
        await memory.storeConversationTurn('alice', 'c1', {
          role: 'user',
          content: `turn ${i}`,
          timestamp: T0 + i * 1000,
          agentId: i % 2 === 0 ? 'even-bot' : 'odd-bot',
        })
      }
      const page = await memory.retrieveConversationTurns('alice', 'c1', {
        before: T0 + 4000,
        order: 'desc',
        limit: 2,
      })
      expect(page.map((t) => t.content)).toEqual(['turn 3', 'turn 2'])
      const window = await memory.retrieveConversationTurns('alice', 'c1', {
        since: T0 + 1000,
        before: new Date(T0 + 3000),
      })
      expect(window.map((t) => t.content)).toEqual(['turn 1', 'turn 2'])
      const odd = await memory.retrieveConversationTurns('alice', 'c1', {
        agentId: 'odd-bot',
        since: T0 + 2000,
      })
      expect(odd.map((t) => t.content)).toEqual(['turn 3', 'turn 5'])
      await expectStorageError(
        memory.retrieveConversationTurns('alice', 'c1', { before: 'yesterday' }),
        'INVALID_ARGUMENT',
      )
      await expectStorageError(
        memory.retrieveConversationTurns('alice', 'c1', { agentId: '' }),
        'INVALID_ARGUMENT',
      )
    })

    it('stores token counts given as null as unknown, never as 0', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'c1', {
        role: 'assistant',
        content: 'ok',
        usage: { prompt_tokens: 7, completion_tokens: null, total_tokens: null },
      })
      const [turn] = await memory.retrieveConversationTurns('alice', 'c1')
      expect(turn?.usage).toStrictEqual({ prompt_tokens: 7 })
    })

    it('lists conversations by most recent activity, with paging and an agent filter', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'old', { role: 'user', timestamp: T0, agentId: 'a1' })
      await memory.storeConversationTurn('alice', 'newest', {
        role: 'user',
        timestamp: T0 + 3000,
        agentId: 'a2',
      })
      await memory.storeConversationTurn('alice', 'middle', {
        role: 'user',
        timestamp: T0 + 2000,
        agentId: 'a1',
      })
      await memory.storeConversationTurn('alice', 'old', { role: 'assistant', timestamp: T0 + 1000 })
      const all = await memory.listUserConversations('alice')
      expect(all.map((c) => c.conversationId)).toEqual(['newest', 'middle', 'old'])
      expect(all[2]).toMatchObject({ createdAt: T0, lastActivity: T0 + 1000, agentId: 'a1' })
      const page = await memory.listUserConversations('alice', { limit: 1, offset: 1 })
      expect(page.map((c) => c.conversationId)).toEqual(['middle'])
      const byAgent = await memory.listUserConversations('alice', { agentId: 'a1' })
      expect(byAgent.map((c) => c.conversationId)).toEqual(['middle', 'old'])
      expect(await memory.listUserConversations('nobody')).toEqual([])
    })

    it('sets and clears a persona, creating the conversation when needed without moving activity', async () => {
      const { memory } = await fresh()
      await memory.setConversationPersona('alice', 'fresh', 'a pirate')
      expect(await memory.getConversation('alice', 'fresh')).toMatchObject({ persona: 'a pirate' })
      expect(await memory.retrieveConversationTurns('alice', 'fresh')).toEqual([])

      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0 })
      await memory.setConversationPersona('alice', 'c1', 'a librarian')
      expect(await memory.getConversation('alice', 'c1')).toMatchObject({
        persona: 'a librarian',
        lastActivity: T0,
      })
      await memory.setConversationPersona('alice', 'c1', null)
      expect((await memory.getConversation('alice', 'c1'))?.persona).toBeNull()
    })

    it('updates title and summary, leaving fields it was not given alone', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: T0, agentId: 'a1' })
      await memory.updateConversation('alice', 'c1', { title: 'Trip', summary: 'planning a trip' })
      await memory.updateConversation('alice', 'c1', { summary: 'booked' })
      expect(await memory.getConversation('alice', 'c1')).toMatchObject({
        title: 'Trip',
        summary: 'booked',
        agentId: 'a1',
        persona: null,
      })
    })

    it('prunes to the newest turns with keepLast', async () => {
      const { memory } = await fresh()
      const ids = await storeMany(memory, 'alice', 'c1', 10)
      expect(await memory.pruneHistory('alice', 'c1', { keepLast: 3 })).toBe(7)
      const left = await memory.retrieveConversationTurns('alice', 'c1')
      expect(left.map((t) => t.storageId)).toEqual(ids.slice(7))
      expect(await memory.pruneHistory('alice', 'c1', { keepLast: 3 })).toBe(0)
    })

    it('prunes turns older than a moment, and with both options removes only old turns outside the newest N', async () => {
      const { memory } = await fresh()
      const ids = await storeMany(memory, 'alice', 'c1', 10)
      expect(await memory.pruneHistory('alice', 'c1', { olderThan: T0 + 2000 })).toBe(2)
      expect((await memory.retrieveConversationTurns('alice', 'c1')).map((t) => t.storageId)).toEqual(
        ids.slice(2),
      )
      // Turns 2..9 remain; older than T0+8000 are 2..7, but the newest 5 (5..9) are kept.
      expect(await memory.pruneHistory('alice', 'c1', { olderThan: T0 + 8000, keepLast: 5 })).toBe(3)
      expect((await memory.retrieveConversationTurns('alice', 'c1')).map((t) => t.storageId)).toEqual(
        ids.slice(5),
      )
      await expectStorageError(memory.pruneHistory('alice', 'c1', {}), 'INVALID_ARGUMENT')
      await expectStorageError(memory.pruneHistory('alice', 'c1', { keepLast: -1 }), 'INVALID_ARGUMENT')
    })

    it('deletes a conversation with its turns and nothing else', async () => {
      const { memory } = await fresh()
      await storeMany(memory, 'alice', 'c1', 4)
      await storeMany(memory, 'alice', 'c2', 2)
      expect(await memory.deleteConversation('alice', 'c1')).toBe(true)
      expect(await memory.getConversation('alice', 'c1')).toBeUndefined()
      expect(await memory.retrieveConversationTurns('alice', 'c1')).toEqual([])
      expect(await memory.retrieveConversationTurns('alice', 'c2')).toHaveLength(2)
      expect(await memory.deleteConversation('alice', 'c1')).toBe(false)
      const rows = await memory.storage.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM engram_conversation_turns WHERE conversation_id = 'c1'",
      )
      expect(Number(rows?.n)).toBe(0)
    })

    it('calls onDeleteConversation after the delete commits, free to use the adapter', async () => {
      const db = await backend.create()
      const adapter = db.open()
      const seen: [string, string, number][] = []
      const memory = new ConversationMemory(adapter, {
        onDeleteConversation: async (userId, conversationId) => {
          // Outside the transaction: the outer adapter answers (inside, a single connection would wait forever).
          const row = await adapter.get<{ n: number }>(
            'SELECT COUNT(*) AS n FROM engram_conversations WHERE user_id = ? AND conversation_id = ?',
            [userId, conversationId],
          )
          seen.push([userId, conversationId, Number(row?.n)])
        },
      })
      await memory.storeConversationTurn('alice', 'c1', { role: 'user' })
      expect(await memory.deleteConversation('alice', 'c1')).toBe(true)
      expect(await memory.deleteConversation('alice', 'never')).toBe(false)
      expect(seen).toEqual([
        ['alice', 'c1', 0],
        ['alice', 'never', 0],
      ])
    })

    it("never reads or changes another user's conversation with the same id", async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'shared-id', {
        role: 'user',
        content: 'alice secret',
        timestamp: T0,
      })
      await memory.setConversationPersona('alice', 'shared-id', 'alice persona')

      expect(await memory.retrieveConversationTurns('bob', 'shared-id')).toEqual([])
      expect(await memory.getConversation('bob', 'shared-id')).toBeUndefined()
      expect(await memory.listUserConversations('bob')).toEqual([])

      await memory.storeConversationTurn('bob', 'shared-id', {
        role: 'user',
        content: 'bob text',
        timestamp: T0 + 50,
      })
      await memory.setConversationPersona('bob', 'shared-id', 'bob persona')
      const bobs = await memory.retrieveConversationTurns('bob', 'shared-id')
      expect(bobs.map((t) => t.content)).toEqual(['bob text'])
      expect(await memory.pruneHistory('bob', 'shared-id', { keepLast: 0 })).toBe(1)
      expect(await memory.deleteConversation('bob', 'shared-id')).toBe(true)

      const alices = await memory.retrieveConversationTurns('alice', 'shared-id')
      expect(alices.map((t) => t.content)).toEqual(['alice secret'])
      expect(await memory.getConversation('alice', 'shared-id')).toMatchObject({
        persona: 'alice persona',
        lastActivity: T0,
      })
      expect((await memory.listUserConversations('alice')).map((c) => c.userId)).toEqual(['alice'])
    })

    it('uses a caller-given storageId, unique per user', async () => {
      const { memory } = await fresh()
      expect(await memory.storeConversationTurn('alice', 'c1', { role: 'user', storageId: 'turn-1' })).toBe(
        'turn-1',
      )
      const duplicate = await expectStorageError(
        memory.storeConversationTurn('alice', 'c2', { role: 'user', storageId: 'turn-1' }),
        'UNIQUE_VIOLATION',
      )
      expect(duplicate.message).toMatch(/storageId/)
      // The failed call rolled back as a whole: it did not leave conversation c2 behind.
      expect(await memory.getConversation('alice', 'c2')).toBeUndefined()
      expect(await memory.storeConversationTurn('bob', 'c1', { role: 'user', storageId: 'turn-1' })).toBe(
        'turn-1',
      )
    })

    it('rejects bad input with INVALID_ARGUMENT and a message naming the problem', async () => {
      const { memory } = await fresh()
      const cases: [Promise<unknown>, RegExp][] = [
        [memory.storeConversationTurn('', 'c1', { role: 'user' }), /userId/],
        [memory.storeConversationTurn('alice', '', { role: 'user' }), /conversationId/],
        [memory.storeConversationTurn('alice', 'c1', { role: 'robot' as never }), /role 'robot'.*'user'/],
        [memory.retrieveConversationTurns('alice', 'c1', { limit: -1 }), /limit/],
        [memory.retrieveConversationTurns('alice', 'c1', { limit: 2.5 }), /limit/],
        [memory.retrieveConversationTurns('alice', 'c1', { offset: -3 }), /offset/],
        [memory.retrieveConversationTurns('alice', 'c1', { order: 'sideways' as never }), /order/],
        [memory.retrieveConversationTurns('alice', 'c1', { roles: ['user', 'robot' as never] }), /robot/],
        [memory.listUserConversations('alice', { limit: -5 }), /limit/],
        [memory.listUserConversations(undefined as never), /userId/],
        [
          memory.storeConversationTurn('alice', 'c1', { role: 'user', metadata: { n: 10n } }),
          /metadata\.n is a bigint/,
        ],
        [memory.storeConversationTurn('alice', 'c1', { role: 'user', metadata: { f: () => 1 } }), /function/],
        [
          memory.storeConversationTurn('alice', 'c1', { role: 'user', metadata: [1, 2] as never }),
          /plain object/,
        ],
        [
          memory.storeConversationTurn('alice', 'c1', { role: 'user', tool_calls: [Number.NaN] }),
          /tool_calls/,
        ],
        [memory.storeConversationTurn('alice', 'c1', { role: 'user', timestamp: 'yesterday' }), /timestamp/],
        [memory.storeConversationTurn('alice', 'c1', { role: 'user', content: 42 as never }), /content/],
        [
          memory.storeConversationTurn('alice', 'c1', { role: 'user', usage: { total_tokens: -1 } }),
          /usage\.total_tokens/,
        ],
        [memory.setConversationPersona('alice', 'c1', { tone: 'x' } as never), /persona/],
      ]
      const circular: Record<string, unknown> = {}
      circular.self = circular
      cases.push([
        memory.storeConversationTurn('alice', 'c1', { role: 'user', metadata: circular }),
        /metadata/,
      ])
      for (const [call, message] of cases) {
        const error = await expectStorageError(call, 'INVALID_ARGUMENT')
        expect(error.message).toMatch(message)
      }
      // None of the rejected calls wrote anything.
      expect(await memory.listUserConversations('alice')).toEqual([])
    })

    it('fails every call with CLOSED after close, and leaves an adapter it was given open', async () => {
      const { memory } = await fresh()
      await memory.storeConversationTurn('alice', 'c1', { role: 'user' })
      await memory.close()
      await memory.close()
      await expectStorageError(memory.storeConversationTurn('alice', 'c1', { role: 'user' }), 'CLOSED')
      await expectStorageError(memory.retrieveConversationTurns('alice', 'c1'), 'CLOSED')
      await expectStorageError(memory.listUserConversations('alice'), 'CLOSED')
      await expectStorageError(memory.deleteConversation('alice', 'c1'), 'CLOSED')
      await expectStorageError(memory.initialize(), 'CLOSED')
      const row = await memory.storage.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM engram_conversation_turns',
      )
      expect(Number(row?.n)).toBe(1)
    })

    it('opens its own database with ConversationMemory.open and closes it on close', async () => {
      const db = await backend.create()
      const memory = await ConversationMemory.open(db.target)
      expect(memory.storage.dialect).toBe(backend.dialect)
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', content: 'hi' })
      expect(await memory.retrieveConversationTurns('alice', 'c1')).toHaveLength(1)
      await memory.close()
      const error = await memory.storage.get('SELECT 1 AS one').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StorageError)
      expect((error as StorageError).code).toBe('CLOSED')
    })

    it('initializes once: later calls and later instances apply nothing and keep the data', async () => {
      const db = await backend.create()
      const adapter = db.open()
      const first = new ConversationMemory(adapter)
      expect((await first.migrate()).applied).toEqual([1, 2])
      await first.initialize()
      await first.initialize()
      await first.storeConversationTurn('alice', 'c1', { role: 'user', content: 'kept' })
      // A second instance on the same adapter, and (where the database is shared) on a new one.
      const others = [new ConversationMemory(adapter)]
      if (db.shared) others.push(new ConversationMemory(db.open()))
      for (const other of others) {
        expect(await other.migrate()).toEqual({
          component: 'conversation-memory',
          from: 2,
          to: 2,
          applied: [],
        })
        expect((await other.retrieveConversationTurns('alice', 'c1')).map((t) => t.content)).toEqual(['kept'])
      }
      const rows = await adapter.all('SELECT component, version FROM engram_migrations ORDER BY version')
      expect(rows).toEqual([
        { component: 'conversation-memory', version: 1 },
        { component: 'conversation-memory', version: 2 },
      ])
    })

    it('runs the migrations before the first call when initialize() was not called', async () => {
      const db = await backend.create()
      const memory = new ConversationMemory(db.open())
      await memory.storeConversationTurn('alice', 'c1', { role: 'user', content: 'lazy' })
      expect((await memory.retrieveConversationTurns('alice', 'c1'))[0]?.content).toBe('lazy')
    })
  })
}

for (const backend of allBackends()) describeConversationMemory(backend)
