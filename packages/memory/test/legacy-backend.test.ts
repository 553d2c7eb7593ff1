import { expectStorageError } from '@engram/conformance'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import { toLegacyMemoryAdapter } from '../src/legacy-memory-adapter.js'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'
import type { ILlmToolCall, ILlmUsage, IMemoryAdapter, IStoredConversationTurn } from './legacy-contract.js'
import { allBackends, sqliteMemoryBackend, type TestBackend } from './storage-backends.js'

const T0 = Date.UTC(2025, 5, 1, 9, 0, 0)

/**
 * Chat history code as a legacy agent backend has it: it knows only its own `IMemoryAdapter`
 * and reads optional fields as absent, never as `null`.
 */
class ChatHistory {
  constructor(private readonly memory: IMemoryAdapter) {}

  async recordExchange(
    userId: string,
    conversationId: string,
    question: string,
    answer: { content: string | null; model: string; usage: ILlmUsage; toolCalls?: ILlmToolCall[] },
    at: number,
  ): Promise<[string, string]> {
    const asked = await this.memory.storeConversationTurn(userId, conversationId, {
      agentId: 'helper',
      role: 'user',
      content: question,
      timestamp: at,
    })
    const reply: Omit<IStoredConversationTurn, 'storageId' | 'conversationId'> = {
      agentId: 'helper',
      role: 'assistant',
      content: answer.content,
      timestamp: at + 1,
      model: answer.model,
      usage: answer.usage,
    }
    if (answer.toolCalls) reply.tool_calls = answer.toolCalls
    return [asked, await this.memory.storeConversationTurn(userId, conversationId, reply)]
  }

  /** The prompt context: the newest turns, oldest first. */
  async context(userId: string, conversationId: string, maxTurns: number) {
    const turns = await this.memory.retrieveConversationTurns(userId, conversationId, { limit: maxTurns })
    return turns.map((turn) => ({ role: turn.role, content: turn.content ?? '' }))
  }

  /** Tokens spent on a conversation, counting unknown counts as none. */
  async tokensSpent(userId: string, conversationId: string): Promise<number> {
    const turns = await this.memory.retrieveConversationTurns(userId, conversationId)
    return turns.reduce((sum, turn) => sum + (turn.usage?.total_tokens ?? 0), 0)
  }

  /** Which turns name their model; an unset model must read as absent. */
  async models(userId: string, conversationId: string): Promise<string[]> {
    const turns = await this.memory.retrieveConversationTurns(userId, conversationId)
    return turns.map((turn) => (turn.model === undefined ? 'unset' : turn.model))
  }
}

function describeLegacyBackend(backend: TestBackend): void {
  describe(`a legacy backend on ConversationMemory (${backend.name})`, () => {
    const opened: IMemoryAdapter[] = []
    afterEach(async () => {
      for (const memory of opened.splice(0)) await memory.disconnect().catch(() => undefined)
      await backend.closeAll()
    })
    afterAll(() => backend.cleanup())

    /** The backend's memory: its own interface, implemented by engram, without a cast. */
    async function legacyMemory(): Promise<IMemoryAdapter> {
      const memory: IMemoryAdapter = toLegacyMemoryAdapter(
        await ConversationMemory.open((await backend.create()).target),
      )
      opened.push(memory)
      await memory.initialize()
      return memory
    }

    it('reads a turn back with its unset fields left out rather than null', async () => {
      const memory = await legacyMemory()
      const storageId = await memory.storeConversationTurn('ada', 'c1', {
        role: 'user',
        content: 'Hello',
        timestamp: T0,
      })
      const [turn] = await memory.retrieveConversationTurns('ada', 'c1')
      expect(turn).toStrictEqual({
        storageId,
        userId: 'ada',
        conversationId: 'c1',
        role: 'user',
        content: 'Hello',
        timestamp: T0,
      })
      expect(await new ChatHistory(memory).models('ada', 'c1')).toEqual(['unset'])
    })

    it('reads every field it stored, and usage with all three counts, null where none was reported', async () => {
      const memory = await legacyMemory()
      const toolCalls: ILlmToolCall[] = [
        { id: 'call_1', type: 'function', function: { name: 'forecast', arguments: '{"city":"Oslo"}' } },
      ]
      const history = new ChatHistory(memory)
      await history.recordExchange(
        'ada',
        'c1',
        'Weather in Oslo?',
        {
          content: null,
          model: 'gpt-x',
          usage: { prompt_tokens: 12, completion_tokens: null, total_tokens: 12 },
          toolCalls,
        },
        T0,
      )
      await memory.storeConversationTurn('ada', 'c1', {
        role: 'tool',
        content: '{"sky":"clear"}',
        timestamp: T0 + 2,
        tool_call_id: 'call_1',
        metadata: { source: 'weather-api' },
        summary: 'clear sky',
      })
      const [question, call, result] = await memory.retrieveConversationTurns('ada', 'c1')
      expect(question?.usage).toBeUndefined()
      expect(call).toMatchObject({ role: 'assistant', content: null, model: 'gpt-x', agentId: 'helper' })
      expect(call?.usage).toStrictEqual({ prompt_tokens: 12, completion_tokens: null, total_tokens: 12 })
      expect(call?.tool_calls).toStrictEqual(toolCalls)
      expect(call?.tool_calls?.[0]?.function.name).toBe('forecast')
      expect(result).toMatchObject({
        tool_call_id: 'call_1',
        metadata: { source: 'weather-api' },
        summary: 'clear sky',
      })
      expect('agentId' in (result as object)).toBe(false)
      expect(await history.tokensSpent('ada', 'c1')).toBe(12)
    })

    it('retrieves the newest limit turns oldest first, pages back with offset, and filters by agent and time', async () => {
      const memory = await legacyMemory()
      for (let i = 0; i < 6; i++) {
        await memory.storeConversationTurn('ada', 'c1', {
          role: i % 2 ? 'assistant' : 'user',
          content: `turn ${i}`,
          timestamp: T0 + i * 1000,
          agentId: i < 3 ? 'old-agent' : 'new-agent',
        })
      }
      const contents = async (options?: Parameters<IMemoryAdapter['retrieveConversationTurns']>[2]) =>
        (await memory.retrieveConversationTurns('ada', 'c1', options)).map((t) => t.content)
      expect(await contents()).toEqual(['turn 0', 'turn 1', 'turn 2', 'turn 3', 'turn 4', 'turn 5'])
      expect(await contents({ limit: 2 })).toEqual(['turn 4', 'turn 5'])
      expect(await contents({ limit: 2, offset: 2 })).toEqual(['turn 2', 'turn 3'])
      expect(await contents({ agentId: 'old-agent' })).toEqual(['turn 0', 'turn 1', 'turn 2'])
      expect(await contents({ afterTimestamp: T0 + 1000, beforeTimestamp: T0 + 4000 })).toEqual([
        'turn 2',
        'turn 3',
      ])
      expect(await new ChatHistory(memory).context('ada', 'c1', 3)).toEqual([
        { role: 'assistant', content: 'turn 3' },
        { role: 'user', content: 'turn 4' },
        { role: 'assistant', content: 'turn 5' },
      ])
    })

    it('lists conversations most recent first with turn counts, and keeps personas per user', async () => {
      const memory = await legacyMemory()
      await new ChatHistory(memory).recordExchange(
        'ada',
        'older',
        'hi',
        { content: 'hello', model: 'm', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
        T0,
      )
      await memory.storeConversationTurn('ada', 'newer', {
        role: 'user',
        content: 'again',
        timestamp: T0 + 60_000,
      })
      await memory.setConversationPersona('ada', 'newer', 'tutor-bot', 'a patient tutor')
      await memory.setConversationPersona('bob', 'newer', 'other-bot', 'a pirate')
      const list = await memory.listUserConversations('ada')
      expect(list.map((c) => [c.conversationId, c.turnCount, c.persona])).toEqual([
        ['newer', 1, 'a patient tutor'],
        ['older', 2, null],
      ])
      expect(list[0]?.agentId).toBe('tutor-bot')
      expect('title' in (list[0] as object)).toBe(false)
      expect((await memory.listUserConversations('ada', 1, 1)).map((c) => c.conversationId)).toEqual([
        'older',
      ])
      expect(await memory.getConversationPersona('ada', 'newer')).toBe('a patient tutor')
      expect(await memory.getConversationPersona('bob', 'newer')).toBe('a pirate')
      expect(await memory.getConversationPersona('ada', 'missing')).toBeNull()
      await memory.setConversationPersona('ada', 'newer', 'tutor-bot', null)
      expect(await memory.getConversationPersona('ada', 'newer')).toBeNull()
    })

    it("prunes a user's turns from before a moment in every conversation, and counts what is left", async () => {
      const memory = await legacyMemory()
      for (const conversation of ['c1', 'c2']) {
        for (let i = 0; i < 3; i++) {
          await memory.storeConversationTurn('ada', conversation, {
            role: 'user',
            content: `${conversation} ${i}`,
            timestamp: T0 + i * 1000,
          })
        }
      }
      await memory.storeConversationTurn('bob', 'c1', { role: 'user', content: 'bob', timestamp: T0 })
      expect(await memory.pruneHistory('ada')).toEqual({ prunedTurnsCount: 0, remainingTurnsCount: 6 })
      expect(await memory.pruneHistory('ada', { olderThanTimestamp: T0 + 2000 })).toEqual({
        prunedTurnsCount: 4,
        remainingTurnsCount: 2,
      })
      expect((await memory.retrieveConversationTurns('ada', 'c2')).map((t) => t.content)).toEqual(['c2 2'])
      expect(await memory.retrieveConversationTurns('bob', 'c1')).toHaveLength(1)
      expect((await memory.listUserConversations('ada')).map((c) => c.turnCount)).toEqual([1, 1])
    })

    it('refuses an unknown role, options it does not know and a bad time, storing nothing', async () => {
      const memory = await legacyMemory()
      await expectStorageError(
        memory.storeConversationTurn('ada', 'c1', { role: 'narrator', content: 'x', timestamp: T0 }),
        'INVALID_ARGUMENT',
      )
      const misspelt = { limit: 2, newestFirst: true }
      await expectStorageError(memory.retrieveConversationTurns('ada', 'c1', misspelt), 'INVALID_ARGUMENT')
      await expectStorageError(memory.pruneHistory('ada', { olderThan: T0 }), 'INVALID_ARGUMENT')
      await expectStorageError(
        memory.pruneHistory('ada', { olderThanTimestamp: Number.NaN }),
        'INVALID_ARGUMENT',
      )
      expect(await memory.retrieveConversationTurns('ada', 'c1')).toEqual([])
      expect(await memory.listUserConversations('ada')).toEqual([])
    })

    it('disconnect() closes the memory it was given', async () => {
      const memory = await legacyMemory()
      await memory.disconnect()
      await expectStorageError(memory.retrieveConversationTurns('ada', 'c1'), 'CLOSED')
    })
  })
}

for (const backend of allBackends()) describeLegacyBackend(backend)

describe('toLegacyMemoryAdapter on a Memory', () => {
  it("serves the memory's conversations, deletes a conversation's memories with it, and closes the memory", async () => {
    const storage = sqliteMemoryBackend()
    const db = await storage.create()
    const adapter = db.open()
    try {
      const memory = await Memory.open({ storage: adapter, embed: createLocalEmbedder({ dimensions: 32 }) })
      // Kept in a variable of its own type, the tool-call type is named rather than inferred.
      const legacy = toLegacyMemoryAdapter<ILlmToolCall[]>(memory)
      const backendView: IMemoryAdapter = legacy
      await backendView.storeConversationTurn('ada', 'c1', {
        role: 'user',
        content: 'I like tea',
        timestamp: T0,
      })
      await memory.remember('Ada likes tea', { userId: 'ada', conversationId: 'c1' })
      expect(await legacy.deleteConversation('ada', 'c1')).toBe(true)
      expect(await memory.count()).toBe(0)
      await backendView.disconnect()
      await expectStorageError(memory.recall('tea'), 'CLOSED')
      expect(await adapter.get('SELECT 1 AS one')).toEqual({ one: 1 })
    } finally {
      await storage.cleanup()
    }
  })

  it('refuses anything but a ConversationMemory or a Memory', () => {
    // @ts-expect-error: a JavaScript caller can pass anything
    expect(() => toLegacyMemoryAdapter({ storeConversationTurn() {} })).toThrow(
      /ConversationMemory or a Memory/,
    )
  })
})
