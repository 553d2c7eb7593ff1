import type { Row, SqlValue } from '@engram/core'
import {
  checkRole,
  checkUsage,
  readJson,
  readMetadata,
  readUsage,
  toMetadataText,
  toMillis,
  toOptionalJsonText,
} from './conversation-values.js'
import type {
  Conversation,
  ConversationTurn,
  StoredConversationTurn,
  TimeInput,
  TurnRole,
} from './memory-adapter.js'
import { checkKey, checkText } from './memory-input.js'

/** A turn as its table row holds it, column by column, every value checked. */
export interface TurnRow {
  storage_id: string
  user_id: string
  conversation_id: string
  role: TurnRole
  content: string | null
  /** Milliseconds since the epoch. */
  created_at: number
  agent_id: string | null
  model: string | null
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
  /** JSON text, or the imported text as it was. */
  tool_calls: string | null
  tool_call_id: string | null
  /** JSON text, or the imported text as it was. */
  metadata: string | null
  summary: string | null
}

/** A conversation as its table row holds it, column by column, every value checked. */
export interface ConversationRow {
  user_id: string
  conversation_id: string
  agent_id: string | null
  /** Milliseconds since the epoch. */
  created_at: number
  /** Milliseconds since the epoch. */
  last_activity: number
  title: string | null
  summary: string | null
  persona: string | null
}

const TURN_COLUMN_LIST = [
  'storage_id',
  'user_id',
  'conversation_id',
  'role',
  'content',
  'created_at',
  'agent_id',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'tool_calls',
  'tool_call_id',
  'metadata',
  'summary',
] as const satisfies ReadonlyArray<keyof TurnRow>

const CONVERSATION_COLUMN_LIST = [
  'user_id',
  'conversation_id',
  'agent_id',
  'created_at',
  'last_activity',
  'title',
  'summary',
  'persona',
] as const satisfies ReadonlyArray<keyof ConversationRow>

/** The turn table's columns, in the order `turnParams` binds them. */
export const TURN_COLUMNS = TURN_COLUMN_LIST.join(', ')
/** `?` placeholders for one turn row. */
export const TURN_MARKS = marks(TURN_COLUMN_LIST.length)
/** The conversation table's columns, in the order `conversationParams` binds them. */
export const CONVERSATION_COLUMNS = CONVERSATION_COLUMN_LIST.join(', ')
/** `?` placeholders for one conversation row. */
export const CONVERSATION_MARKS = marks(CONVERSATION_COLUMN_LIST.length)

/** A turn row's values in `TURN_COLUMNS` order. */
export function turnParams(row: TurnRow): SqlValue[] {
  return TURN_COLUMN_LIST.map((column) => row[column])
}

/** A conversation row's values in `CONVERSATION_COLUMNS` order. */
export function conversationParams(row: ConversationRow): SqlValue[] {
  return CONVERSATION_COLUMN_LIST.map((column) => row[column])
}

/**
 * Checks every field of a turn and returns its row. With `verbatim` (imports), metadata and
 * tool calls given as strings are kept as the stored text, even when it is not valid JSON.
 */
export function turnRow(
  userId: string,
  conversationId: string,
  storageId: string,
  turn: Omit<ConversationTurn, 'metadata'> & { metadata?: unknown },
  timestamp: TimeInput,
  verbatim: boolean,
): TurnRow {
  const role = checkRole(turn.role)
  const content = checkText(turn.content, 'turn.content')
  const usage = checkUsage(turn.usage)
  const metadata =
    verbatim && typeof turn.metadata === 'string'
      ? checkText(turn.metadata, 'turn.metadata')
      : toMetadataText(turn.metadata)
  const toolCalls =
    verbatim && typeof turn.tool_calls === 'string'
      ? checkText(turn.tool_calls, 'turn.tool_calls')
      : toOptionalJsonText(turn.tool_calls, 'turn.tool_calls')
  return {
    storage_id: storageId,
    user_id: userId,
    conversation_id: conversationId,
    role,
    content,
    created_at: toMillis(timestamp, 'turn.timestamp'),
    agent_id: turn.agentId == null ? null : checkKey(turn.agentId, 'turn.agentId'),
    model: checkText(turn.model, 'turn.model'),
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens,
    tool_calls: toolCalls,
    tool_call_id: checkText(turn.tool_call_id, 'turn.tool_call_id'),
    metadata,
    summary: checkText(turn.summary, 'turn.summary'),
  }
}

/** A row read from the turn table as the contract's stored turn. */
export function toStoredTurn(row: Row): StoredConversationTurn {
  return {
    storageId: row.storage_id as string,
    userId: row.user_id as string,
    conversationId: row.conversation_id as string,
    role: row.role as TurnRole,
    content: (row.content as string | null) ?? null,
    timestamp: Number(row.created_at),
    agentId: (row.agent_id as string | null) ?? null,
    model: (row.model as string | null) ?? null,
    usage: readUsage(row.prompt_tokens, row.completion_tokens, row.total_tokens),
    tool_calls: readJson(row.tool_calls),
    tool_call_id: (row.tool_call_id as string | null) ?? null,
    metadata: readMetadata(row.metadata),
    summary: (row.summary as string | null) ?? null,
  }
}

/** A row read from the conversation table as the contract's conversation. */
export function toConversation(row: Row): Conversation {
  return {
    conversationId: row.conversation_id as string,
    userId: row.user_id as string,
    agentId: (row.agent_id as string | null) ?? null,
    createdAt: Number(row.created_at),
    lastActivity: Number(row.last_activity),
    title: (row.title as string | null) ?? null,
    summary: (row.summary as string | null) ?? null,
    persona: (row.persona as string | null) ?? null,
  }
}

/** `?, ?, …` for `count` placeholders. */
export function marks(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ')
}
