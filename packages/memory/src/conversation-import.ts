import { type StorageAdapter, StorageError } from '@engram/core'
import {
  CONVERSATION_COLUMNS,
  CONVERSATION_MARKS,
  type ConversationRow,
  conversationParams,
  TURN_COLUMNS,
  TURN_MARKS,
  type TurnRow,
  turnParams,
  turnRow,
} from './conversation-rows.js'
import { CONVERSATIONS_TABLE, TURNS_TABLE } from './conversation-schema.js'
import { toMillis } from './conversation-values.js'
import type { ConversationTurn, TimeInput } from './memory-adapter.js'
import { checkKey, checkText, checkUserId, describeValue, isPlainObject } from './memory-input.js'

/** A conversation record for `importBatch`, as another store or a legacy database had it. */
export interface ImportedConversation {
  /** The user it belongs to. */
  userId: string
  /** The conversation's id. */
  conversationId: string
  /** The agent recorded on it. */
  agentId?: string | null
  /** When it began. Default is `lastActivity`, else now. */
  createdAt?: TimeInput | null
  /** Its last activity. Default is `createdAt`. */
  lastActivity?: TimeInput | null
  /** A display title. */
  title?: string | null
  /** A summary. */
  summary?: string | null
  /** The persona. */
  persona?: string | null
}

/** A turn for `importBatch`: a stored turn whose JSON fields may still be their stored text. */
export interface ImportedTurn
  extends Omit<ConversationTurn, 'storageId' | 'timestamp' | 'metadata' | 'tool_calls'> {
  /** The user it belongs to. */
  userId: string
  /** Its conversation; created (from this turn) when it does not exist. */
  conversationId: string
  /** Its id; a turn whose id the user already has is skipped, which makes imports repeatable. */
  storageId: string
  /** When it was said. */
  timestamp: TimeInput
  /** A plain object, or a string stored verbatim as the column's text (even when it is not valid JSON). */
  metadata?: Record<string, unknown> | string | null
  /** Any JSON value; a string is taken as the column's stored text and kept verbatim. */
  tool_calls?: unknown
}

/** What `importBatch` wrote. */
export interface ImportCounts {
  /** Conversations created. */
  conversations: number
  /** Turns inserted. */
  turns: number
  /** Conversations and turns that already existed and were left as they were. */
  skipped: number
}

/** An import batch after every record was checked, ready to write. */
export interface CheckedImport {
  /** The conversation rows. */
  conversations: ConversationRow[]
  /** The turn rows. */
  turns: TurnRow[]
}

/** Checks every record of an import batch before anything is written. */
export function checkImport(batch: {
  conversations?: readonly ImportedConversation[]
  turns?: readonly ImportedTurn[]
}): CheckedImport {
  if (!isPlainObject(batch)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `importBatch takes an object { conversations?, turns? }; got ${describeValue(batch)}`,
    )
  }
  const conversations = list(batch.conversations, 'conversations').map(conversationRow)
  const turns = list(batch.turns, 'turns').map((turn) => {
    if (!isPlainObject(turn)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `Each imported turn must be an object; got ${describeValue(turn)}`,
      )
    }
    const userId = checkUserId(turn.userId, 'turn.userId')
    const conversationId = checkKey(turn.conversationId, 'turn.conversationId')
    return turnRow(
      userId,
      conversationId,
      checkKey(turn.storageId, 'turn.storageId'),
      turn,
      turn.timestamp,
      true,
    )
  })
  return { conversations, turns }
}

function list<T>(value: readonly T[] | undefined, name: string): readonly T[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    throw new StorageError('INVALID_ARGUMENT', `${name} must be an array; got ${describeValue(value)}`)
  }
  return value
}

/**
 * Writes a checked batch inside `tx`, skipping what exists: conversations first, then one
 * conversation row per conversation the turns name (created from its turns, or stretched to its
 * newest turn), then the turns.
 */
export async function writeImport(tx: StorageAdapter, batch: CheckedImport): Promise<ImportCounts> {
  const counts: ImportCounts = { conversations: 0, turns: 0, skipped: 0 }
  for (const row of batch.conversations) {
    const { changes } = await tx.run(
      `INSERT INTO ${CONVERSATIONS_TABLE} (${CONVERSATION_COLUMNS}) VALUES (${CONVERSATION_MARKS})
       ON CONFLICT (user_id, conversation_id) DO NOTHING`,
      conversationParams(row),
    )
    if (changes > 0) counts.conversations++
    else counts.skipped++
  }
  for (const span of spans(batch.turns)) {
    const created = await tx.run(
      `INSERT INTO ${CONVERSATIONS_TABLE} (user_id, conversation_id, agent_id, created_at, last_activity)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, conversation_id) DO NOTHING`,
      [span.user, span.conversation, span.agent, span.first, span.last],
    )
    if (created.changes > 0) counts.conversations++
    else
      await tx.run(
        `UPDATE ${CONVERSATIONS_TABLE} SET last_activity = ?
         WHERE user_id = ? AND conversation_id = ? AND last_activity < ?`,
        [span.last, span.user, span.conversation, span.last],
      )
  }
  for (const row of batch.turns) {
    const { changes } = await tx.run(
      `INSERT INTO ${TURNS_TABLE} (${TURN_COLUMNS}) VALUES (${TURN_MARKS})
       ON CONFLICT (user_id, storage_id) DO NOTHING`,
      turnParams(row),
    )
    if (changes > 0) counts.turns++
    else counts.skipped++
  }
  return counts
}

interface Span {
  user: string
  conversation: string
  agent: string | null
  first: number
  last: number
}

/** One span per conversation the turns belong to: its first turn's agent, its first and last times. */
function spans(turns: readonly TurnRow[]): Iterable<Span> {
  const byConversation = new Map<string, Span>()
  for (const turn of turns) {
    const key = JSON.stringify([turn.user_id, turn.conversation_id])
    const at = turn.created_at
    const span = byConversation.get(key)
    if (span === undefined) {
      byConversation.set(key, {
        user: turn.user_id,
        conversation: turn.conversation_id,
        agent: turn.agent_id,
        first: at,
        last: at,
      })
    } else {
      span.first = Math.min(span.first, at)
      span.last = Math.max(span.last, at)
    }
  }
  return byConversation.values()
}

/** A conversation record from an import, checked, with its times defaulted from each other. */
function conversationRow(conversation: ImportedConversation): ConversationRow {
  if (!isPlainObject(conversation)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Each imported conversation must be an object; got ${describeValue(conversation)}`,
    )
  }
  const created = conversation.createdAt ?? conversation.lastActivity ?? Date.now()
  const createdAt = toMillis(created, 'conversation.createdAt')
  return {
    user_id: checkUserId(conversation.userId, 'conversation.userId'),
    conversation_id: checkKey(conversation.conversationId, 'conversation.conversationId'),
    agent_id: conversation.agentId == null ? null : checkKey(conversation.agentId, 'conversation.agentId'),
    created_at: createdAt,
    last_activity:
      conversation.lastActivity == null
        ? createdAt
        : toMillis(conversation.lastActivity, 'conversation.lastActivity'),
    title: checkText(conversation.title, 'conversation.title'),
    summary: checkText(conversation.summary, 'conversation.summary'),
    persona: checkText(conversation.persona, 'conversation.persona'),
  }
}
