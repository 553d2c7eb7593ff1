import { StorageError } from '@engram/core'
import { ConversationMemory } from './conversation-memory.js'
import { marks } from './conversation-rows.js'
import { TURNS_TABLE } from './conversation-schema.js'
import { checkRole, MAX_TIME_MS, toMillis } from './conversation-values.js'
import type {
  LegacyConversationSummary,
  LegacyConversationTurn,
  LegacyPruneCriteria,
  LegacyPruneResult,
  LegacyRetrievalOptions,
  LegacyTurnInput,
} from './legacy-memory-types.js'
import { Memory } from './memory.js'
import type { Conversation, StoredConversationTurn, TimeInput } from './memory-adapter.js'
import { checkOptions, checkUserId, describeValue } from './memory-input.js'

/**
 * The conversation-memory contract of the legacy better-sqlite3 chat backends (the databases
 * `importLegacySqliteMemory` reads), on engram's `ConversationMemory`: a backend written against
 * that contract keeps its code and its types. Where engram's own API differs, see docs/memory.md.
 */
export interface LegacyMemoryAdapter<ToolCalls = unknown> {
  /** The conversation memory underneath, for engram's own API. */
  readonly conversations: ConversationMemory
  /** Creates or upgrades the tables; safe to call again and from several processes at once. */
  initialize(): Promise<void>
  /** Stores a turn, creating the conversation on first use, and returns its storage id. */
  storeConversationTurn(
    userId: string,
    conversationId: string,
    turn: LegacyTurnInput<ToolCalls>,
  ): Promise<string>
  /** The conversation's turns, oldest first; with `limit`, only the newest that many. */
  retrieveConversationTurns(
    userId: string,
    conversationId: string,
    options?: LegacyRetrievalOptions,
  ): Promise<LegacyConversationTurn<ToolCalls>[]>
  /** The user's conversations, most recent activity first, with their turn counts. Default `limit` is `20`. */
  listUserConversations(userId: string, limit?: number, offset?: number): Promise<LegacyConversationSummary[]>
  /**
   * Sets (or with `null` clears) the persona, creating the conversation when needed; a non-null
   * `agentId` is recorded on it. `timestamp` is checked but does not move `lastActivity`, which
   * only turns move.
   */
  setConversationPersona(
    userId: string,
    conversationId: string,
    agentId: string | null | undefined,
    persona: string | null,
    timestamp?: TimeInput,
  ): Promise<void>
  /** The conversation's persona, or `null` when none is set or the conversation does not exist. */
  getConversationPersona(userId: string, conversationId: string): Promise<string | null>
  /**
   * Removes the user's turns from before `criteria.olderThanTimestamp`, in every conversation, and
   * counts the turns left. Conversations are kept, with their persona and title, even when no turn
   * is left; `deleteConversation` removes one.
   */
  pruneHistory(userId: string, criteria?: LegacyPruneCriteria): Promise<LegacyPruneResult>
  /** Deletes a conversation and its turns (and, under a `Memory`, the memories made from it); `true` when it existed. */
  deleteConversation(userId: string, conversationId: string): Promise<boolean>
  /** Closes what was handed to `toLegacyMemoryAdapter` (and the database, when that opened it). */
  disconnect(): Promise<void>
}

const RETRIEVAL_OPTIONS = ['limit', 'offset', 'agentId', 'afterTimestamp', 'beforeTimestamp'] as const
const PRUNE_CRITERIA = ['olderThanTimestamp'] as const

/**
 * Gives a `ConversationMemory` (or a `Memory`'s conversations) the legacy chat backends'
 * conversation-memory contract. `ToolCalls` is the type your backend declares for stored tool
 * calls; it is usually inferred from the interface you assign the result to.
 *
 * @example
 * const memory: IMemoryAdapter = toLegacyMemoryAdapter(await ConversationMemory.open(url))
 */
export function toLegacyMemoryAdapter<ToolCalls = unknown>(
  source: ConversationMemory | Memory,
): LegacyMemoryAdapter<ToolCalls> {
  if (source instanceof Memory) return new LegacyAdapter(source.conversations, () => source.close())
  if (source instanceof ConversationMemory) return new LegacyAdapter(source, () => source.close())
  throw new StorageError(
    'INVALID_ARGUMENT',
    `toLegacyMemoryAdapter takes a ConversationMemory or a Memory; got ${describeValue(source)}`,
  )
}

class LegacyAdapter<ToolCalls> implements LegacyMemoryAdapter<ToolCalls> {
  readonly conversations: ConversationMemory
  readonly #close: () => Promise<void>

  constructor(conversations: ConversationMemory, close: () => Promise<void>) {
    this.conversations = conversations
    this.#close = close
  }

  initialize(): Promise<void> {
    return this.conversations.initialize()
  }

  async storeConversationTurn(
    userId: string,
    conversationId: string,
    turn: LegacyTurnInput<ToolCalls>,
  ): Promise<string> {
    if (typeof turn !== 'object' || turn === null) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `turn must be an object with a role; got ${describeValue(turn)}`,
      )
    }
    // Fields are picked one by one: the legacy turn type carries ids (storageId, userId) that are not the turn's to set.
    const { agentId, role, content, timestamp, model, usage, tool_calls, tool_call_id, metadata, summary } =
      turn
    return this.conversations.storeConversationTurn(userId, conversationId, {
      role: checkRole(role),
      content,
      ...(timestamp === undefined ? {} : { timestamp }),
      agentId,
      model,
      usage,
      tool_calls,
      tool_call_id,
      metadata,
      summary,
    })
  }

  async retrieveConversationTurns(
    userId: string,
    conversationId: string,
    given?: LegacyRetrievalOptions,
  ): Promise<LegacyConversationTurn<ToolCalls>[]> {
    const options = known(checkOptions(given, 'options'), RETRIEVAL_OPTIONS, 'options')
    let since: number | undefined
    if (options.afterTimestamp !== undefined) {
      const after = toMillis(options.afterTimestamp, 'afterTimestamp')
      if (after === MAX_TIME_MS) return []
      since = after + 1
    }
    // Newest first, so `limit` keeps the most recent turns; handed back oldest first.
    const turns = await this.conversations.retrieveConversationTurns(userId, conversationId, {
      order: 'desc',
      limit: options.limit ?? Number.MAX_SAFE_INTEGER,
      offset: options.offset ?? 0,
      ...(since === undefined ? {} : { since }),
      ...(options.beforeTimestamp === undefined ? {} : { before: options.beforeTimestamp }),
      ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
    })
    return turns.reverse().map((turn) => legacyTurn<ToolCalls>(turn))
  }

  async listUserConversations(userId: string, limit = 20, offset = 0): Promise<LegacyConversationSummary[]> {
    const conversations = await this.conversations.listUserConversations(userId, { limit, offset })
    const counts = new Map<string, number>()
    const ids = conversations.map((c) => c.conversationId)
    for (let i = 0; i < ids.length; i += 500) {
      const slice = ids.slice(i, i + 500)
      const rows = await this.conversations.storage.all<{ conversation_id: string; n: number | bigint }>(
        `SELECT conversation_id, COUNT(*) AS n FROM ${TURNS_TABLE}
         WHERE user_id = ? AND conversation_id IN (${marks(slice.length)}) GROUP BY conversation_id`,
        [userId, ...slice],
      )
      for (const row of rows) counts.set(row.conversation_id, Number(row.n))
    }
    return conversations.map((c) => legacySummary(c, counts.get(c.conversationId) ?? 0))
  }

  async setConversationPersona(
    userId: string,
    conversationId: string,
    agentId: string | null | undefined,
    persona: string | null,
    timestamp?: TimeInput,
  ): Promise<void> {
    if (timestamp !== undefined) toMillis(timestamp, 'timestamp')
    await this.conversations.updateConversation(userId, conversationId, {
      persona,
      ...(agentId === undefined || agentId === null ? {} : { agentId }),
    })
  }

  async getConversationPersona(userId: string, conversationId: string): Promise<string | null> {
    return (await this.conversations.getConversation(userId, conversationId))?.persona ?? null
  }

  async pruneHistory(userId: string, given?: LegacyPruneCriteria): Promise<LegacyPruneResult> {
    checkUserId(userId)
    const criteria = known(checkOptions(given, 'criteria'), PRUNE_CRITERIA, 'criteria')
    const before =
      criteria.olderThanTimestamp === undefined
        ? undefined
        : toMillis(criteria.olderThanTimestamp, 'olderThanTimestamp')
    await this.conversations.initialize()
    return this.conversations.storage.transaction(async (tx) => {
      const pruned =
        before === undefined
          ? 0
          : (
              await tx.run(`DELETE FROM ${TURNS_TABLE} WHERE user_id = ? AND created_at < ?`, [
                userId,
                before,
              ])
            ).changes
      const left = await tx.get<{ n: number | bigint }>(
        `SELECT COUNT(*) AS n FROM ${TURNS_TABLE} WHERE user_id = ?`,
        [userId],
      )
      return { prunedTurnsCount: pruned, remainingTurnsCount: Number(left?.n ?? 0) }
    })
  }

  deleteConversation(userId: string, conversationId: string): Promise<boolean> {
    return this.conversations.deleteConversation(userId, conversationId)
  }

  disconnect(): Promise<void> {
    return this.#close()
  }
}

/** Refuses option names the legacy contract does not have, rather than ignoring them. */
function known<T extends object>(options: Partial<T>, names: readonly (keyof T & string)[], label: string) {
  for (const key of Object.keys(options)) {
    if (!(names as readonly string[]).includes(key)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${label}.${key} is not understood; the legacy contract takes ${names.join(', ')}`,
      )
    }
  }
  return options
}

/** An engram turn in the legacy shape: unset fields left out, usage with all three counts. */
function legacyTurn<ToolCalls>(turn: StoredConversationTurn): LegacyConversationTurn<ToolCalls> {
  const out: LegacyConversationTurn<ToolCalls> = {
    storageId: turn.storageId,
    userId: turn.userId,
    conversationId: turn.conversationId,
    role: turn.role,
    content: turn.content,
    timestamp: turn.timestamp,
  }
  if (turn.agentId !== null) out.agentId = turn.agentId
  if (turn.model !== null) out.model = turn.model
  if (turn.usage !== null) {
    out.usage = {
      prompt_tokens: turn.usage.prompt_tokens ?? null,
      completion_tokens: turn.usage.completion_tokens ?? null,
      total_tokens: turn.usage.total_tokens ?? null,
    }
  }
  // The caller's backend wrote these tool calls; their type is the one it declares.
  if (turn.tool_calls !== null && turn.tool_calls !== undefined) out.tool_calls = turn.tool_calls as ToolCalls
  if (turn.tool_call_id !== null) out.tool_call_id = turn.tool_call_id
  if (turn.metadata !== null) out.metadata = turn.metadata
  if (turn.summary !== null) out.summary = turn.summary
  return out
}

function legacySummary(c: Conversation, turnCount: number): LegacyConversationSummary {
  const out: LegacyConversationSummary = {
    conversationId: c.conversationId,
    userId: c.userId,
    createdAt: c.createdAt,
    lastActivity: c.lastActivity,
    persona: c.persona,
    turnCount,
  }
  if (c.agentId !== null) out.agentId = c.agentId
  if (c.summary !== null) out.summary = c.summary
  if (c.title !== null) out.title = c.title
  return out
}
