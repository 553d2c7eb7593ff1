import type { TimeInput, TokenUsageInput, TurnRole } from './memory-adapter.js'

/** Token counts as the legacy contract reads them back: all three fields, `null` where a count is unknown. */
export interface LegacyTokenUsage {
  /** Tokens in the prompt. */
  prompt_tokens: number | null
  /** Tokens in the completion. */
  completion_tokens: number | null
  /** Prompt plus completion tokens. */
  total_tokens: number | null
}

/**
 * A turn as the legacy contract reads it back: fields that were never set are left out rather
 * than `null` (except `content`, which is `null` for a turn that only calls tools).
 * `ToolCalls` is the type your backend gives its stored tool calls; engram stores any JSON.
 */
export interface LegacyConversationTurn<ToolCalls = unknown> {
  /** The turn's id, unique per user. */
  storageId: string
  /** The user the conversation belongs to. */
  userId: string
  /** The conversation, unique per user. */
  conversationId: string
  /** The agent that took part. */
  agentId?: string
  /** Who said it. */
  role: TurnRole
  /** What was said. */
  content: string | null
  /** When it was said, in milliseconds since the epoch. */
  timestamp: number
  /** The model that produced it. */
  model?: string
  /** Token counts, when any were stored. */
  usage?: LegacyTokenUsage
  /** The tool calls, parsed from the JSON they were stored as. */
  tool_calls?: ToolCalls
  /** The call a `tool` turn answers. */
  tool_call_id?: string
  /** The turn's metadata. */
  metadata?: Record<string, unknown>
  /** A short summary of the turn. */
  summary?: string
}

/**
 * A turn as the legacy contract stores it. `role` is any string here, as the legacy table took
 * any text; engram stores `'user'`, `'assistant'`, `'system'` and `'tool'`, and refuses any other
 * role with `INVALID_ARGUMENT` before writing. Fields left out, `undefined` or `null` are unset.
 */
export interface LegacyTurnInput<ToolCalls = unknown> {
  /** The agent that took part. */
  agentId?: string | null
  /** Who said it: `'user'`, `'assistant'`, `'system'` or `'tool'`. */
  role: string
  /** What was said. */
  content?: string | null
  /** When it was said. Default is now. */
  timestamp?: TimeInput
  /** The model that produced it. */
  model?: string | null
  /** Token counts; `null` for a count the model did not report. */
  usage?: TokenUsageInput | null
  /** The tool calls an assistant turn made: any JSON value. */
  tool_calls?: ToolCalls | null
  /** The call a `tool` turn answers. */
  tool_call_id?: string | null
  /** Free-form JSON data about the turn (a plain object). */
  metadata?: Record<string, unknown> | null
  /** A short summary of the turn. */
  summary?: string | null
}

/** Options for the legacy `retrieveConversationTurns`. */
export interface LegacyRetrievalOptions {
  /** The newest this many turns (after `offset`), returned oldest first. Default is every turn. */
  limit?: number
  /** Newest turns to skip first, to page back in time. Default is `0`. */
  offset?: number
  /** Only turns recorded with this agent. */
  agentId?: string
  /** Only turns after this moment (it is excluded). */
  afterTimestamp?: number
  /** Only turns before this moment (it is excluded). */
  beforeTimestamp?: number
}

/** A conversation as the legacy `listUserConversations` returns it; unset fields are left out. */
export interface LegacyConversationSummary {
  /** The conversation, unique per user. */
  conversationId: string
  /** The user it belongs to. */
  userId: string
  /** When it began, in milliseconds since the epoch. */
  createdAt: number
  /** The newest turn's time, in milliseconds since the epoch. */
  lastActivity: number
  /** The agent last recorded on it. */
  agentId?: string
  /** A summary of the whole conversation. */
  summary?: string
  /** A display title. */
  title?: string
  /** The persona the agent plays in it, or `null` when none is set. */
  persona: string | null
  /** How many turns it holds. */
  turnCount: number
}

/** What the legacy `pruneHistory` removes. Given none, it removes nothing and only counts. */
export interface LegacyPruneCriteria {
  /** Removes the user's turns from before this moment, in every conversation. */
  olderThanTimestamp?: TimeInput
}

/** What the legacy `pruneHistory` did. */
export interface LegacyPruneResult {
  /** Turns removed. */
  prunedTurnsCount: number
  /** The user's turns left, in all conversations. */
  remainingTurnsCount: number
}
