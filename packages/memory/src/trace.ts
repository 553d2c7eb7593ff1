import {
  checkWellFormed,
  type Metadata,
  type MetadataValue,
  type StorageAdapter,
  StorageError,
  validateMetadata,
} from '@engram/core'
import { checkKey, checkOptions, checkUserId, describeValue } from './memory-input.js'
import type { RememberOptions } from './memory-options.js'
import { TRACES_TABLE } from './memory-schema.js'

/** What kind of memory a trace is. */
export type TraceType = 'fact' | 'episode' | 'chunk' | 'summary' | 'note' | (string & {})

/** One remembered item. */
export interface Trace {
  /** Its id. */
  id: string
  /** The remembered text. */
  text: string
  /** Its kind. Default is `'note'` (`'chunk'` for ingested documents). */
  type: TraceType
  /** A namespace, such as a user or an agent. Default is `'default'`. */
  scope: string
  /** Labels to filter by. */
  tags: string[]
  /** Your own filterable values (strings, numbers, booleans, string lists). */
  metadata: Metadata
  /** The document it was cut from, for chunks. */
  documentId?: string
  /** Its position in that document. */
  chunkIndex?: number
  /** The user whose conversation it came from. */
  userId?: string
  /** The conversation it came from; deleting the conversation deletes the trace. */
  conversationId?: string
  /** When it was remembered, in milliseconds since the epoch. */
  createdAt: number
}

/** Traces per multi-row INSERT: 50 × 11 = 550 parameters, within every driver's limit. */
const INSERT_ROWS = 50

/** Metadata keys the built-in fields use; a caller's metadata may not take them. */
const RESERVED = new Set(['scope', 'type', 'tags', 'document_id', 'user_id', 'conversation_id'])

/** A trace row as the table holds it. */
export interface TraceRow {
  id: string
  text: string
  type: string
  scope: string
  /** JSON text. */
  tags: string
  /** JSON text. */
  metadata: string
  document_id: string | null
  chunk_index: number | null
  user_id: string | null
  conversation_id: string | null
  created_at: number
}

/** The longest scope, type or tag accepted, in characters. */
export const MAX_LABEL_LENGTH = 1024

/** Checks `text` and the options and returns a new trace (not yet stored). */
export function newTrace(text: string, given: RememberOptions | undefined): Trace {
  if (typeof text !== 'string' || text.trim().length === 0) {
    throw new StorageError('INVALID_ARGUMENT', `A memory needs non-empty text; got ${describeValue(text)}`)
  }
  checkWellFormed(text, 'The memory text')
  const options = checkOptions(given, 'options')
  if ((options.userId === undefined) !== (options.conversationId === undefined)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'Link a memory to a conversation with both userId and conversationId',
    )
  }
  const tags = options.tags ?? []
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new StorageError('INVALID_ARGUMENT', 'tags must be an array of non-empty strings')
  }
  // The same rule as recall's `tag`, so every tag that is stored can be recalled by.
  for (const [i, tag] of tags.entries()) checkKey(tag, `tags[${i}]`, MAX_LABEL_LENGTH)
  const trace: Trace = {
    id: globalThis.crypto.randomUUID(),
    text,
    type: checkKey(options.type ?? 'note', 'type', MAX_LABEL_LENGTH),
    scope: checkKey(options.scope ?? 'default', 'scope', MAX_LABEL_LENGTH),
    tags: [...tags],
    metadata: checkUserMetadata(options.metadata),
    createdAt: Date.now(),
  }
  // The same rules as ConversationMemory's, so every conversation it holds can have memories.
  if (options.userId !== undefined) trace.userId = checkUserId(options.userId)
  if (options.conversationId !== undefined)
    trace.conversationId = checkKey(options.conversationId, 'conversationId')
  return trace
}

/** Inserts traces with multi-row INSERTs: one round trip per 50 traces instead of one per trace. */
export async function insertTraces(tx: StorageAdapter, traces: readonly Trace[]): Promise<void> {
  for (let start = 0; start < traces.length; start += INSERT_ROWS) {
    const rows = traces.slice(start, start + INSERT_ROWS)
    await tx.run(
      `INSERT INTO ${TRACES_TABLE} (id, text, type, scope, tags, metadata, document_id, chunk_index, user_id, conversation_id, created_at)
       VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      rows.flatMap((t) => [
        t.id,
        t.text,
        t.type,
        t.scope,
        JSON.stringify(t.tags),
        JSON.stringify(t.metadata),
        t.documentId ?? null,
        t.chunkIndex ?? null,
        t.userId ?? null,
        t.conversationId ?? null,
        t.createdAt,
      ]),
    )
  }
}

/** The ids of the traces matching a condition on the trace table (its `?` values in `params`). */
export async function selectTraceIds(db: StorageAdapter, where: string, params: string[]): Promise<string[]> {
  const rows = await db.all<{ id: string }>(`SELECT id FROM ${TRACES_TABLE} WHERE ${where}`, params)
  return rows.map((row) => row.id)
}

/** A row read from the trace table as a trace. */
export function toTrace(row: TraceRow): Trace {
  const trace: Trace = {
    id: row.id,
    text: row.text,
    type: row.type,
    scope: row.scope,
    tags: JSON.parse(row.tags),
    metadata: JSON.parse(row.metadata),
    createdAt: Number(row.created_at),
  }
  if (row.document_id !== null) trace.documentId = row.document_id
  if (row.chunk_index !== null) trace.chunkIndex = Number(row.chunk_index)
  if (row.user_id !== null) trace.userId = row.user_id
  if (row.conversation_id !== null) trace.conversationId = row.conversation_id
  return trace
}

/** The vector record's metadata: the caller's values plus the built-in fields recall filters on. */
export function vectorMetadata(trace: Trace): Metadata {
  const out: Record<string, MetadataValue> = {
    ...trace.metadata,
    scope: trace.scope,
    type: trace.type,
    tags: trace.tags,
  }
  if (trace.documentId !== undefined) out.document_id = trace.documentId
  if (trace.userId !== undefined) out.user_id = trace.userId
  if (trace.conversationId !== undefined) out.conversation_id = trace.conversationId
  return out
}

/** Checks a caller's metadata, which may not use the built-in fields' names. */
export function checkUserMetadata(metadata: Metadata | undefined): Metadata {
  const valid = validateMetadata(metadata) ?? {}
  for (const key of Object.keys(valid)) {
    if (RESERVED.has(key)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `metadata.${key} is reserved; pass it as an option of its own`,
      )
    }
  }
  return valid
}
