/**
 * The conversation-memory contract as a legacy agent backend declares it, in its own file and its
 * own words, with no engram import: the shapes of the better-sqlite3 chat backends whose databases
 * `importLegacySqliteMemory` reads. `legacy-backend.test.ts` is written against it the way such a
 * backend is, and this package's typecheck (`tsc -p tsconfig.json`) proves that what engram ships
 * implements it without a cast.
 */

/** A tool call in the OpenAI shape the backend stores. */
export interface ILlmToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

/** Token counts: all three fields, `null` when the model did not report one. */
export interface ILlmUsage {
  prompt_tokens: number | null
  completion_tokens: number | null
  total_tokens: number | null
}

/** One stored turn; optional fields are absent when unset. */
export interface IStoredConversationTurn {
  storageId: string
  conversationId: string
  userId?: string
  agentId?: string
  /** Free text, as the legacy table's `role TEXT NOT NULL` column holds it. */
  role: string
  content: string | null
  timestamp: number
  model?: string
  usage?: ILlmUsage
  tool_calls?: ILlmToolCall[]
  tool_call_id?: string
  // biome-ignore lint/suspicious/noExplicitAny: the backend's own declaration, kept as it is
  metadata?: Record<string, any>
  summary?: string
}

/** Options for reading turns: `limit` means the most recent that many. */
export interface IMemoryRetrievalOptions {
  limit?: number
  offset?: number
  agentId?: string
  afterTimestamp?: number
  beforeTimestamp?: number
}

/** One row of a user's conversation list. */
export interface IConversationSummary {
  conversationId: string
  lastActivity: number
  agentId?: string
  summary?: string
  title?: string
  turnCount?: number
  persona?: string | null
}

/** The contract the backend's chat code holds its memory by. */
export interface IMemoryAdapter {
  initialize(): Promise<void>
  storeConversationTurn(
    userId: string,
    conversationId: string,
    turnData: Omit<IStoredConversationTurn, 'storageId' | 'conversationId'>,
  ): Promise<string>
  retrieveConversationTurns(
    userId: string,
    conversationId: string,
    options?: IMemoryRetrievalOptions,
  ): Promise<IStoredConversationTurn[]>
  listUserConversations(userId: string, limit?: number, offset?: number): Promise<IConversationSummary[]>
  setConversationPersona(
    userId: string,
    conversationId: string,
    agentId: string,
    persona: string | null,
    timestamp?: number,
  ): Promise<void>
  getConversationPersona(userId: string, conversationId: string): Promise<string | null>
  pruneHistory(
    userId: string,
    // biome-ignore lint/suspicious/noExplicitAny: the backend's own declaration, kept as it is
    criteria?: Record<string, any>,
  ): Promise<{ prunedTurnsCount: number; remainingTurnsCount: number }>
  disconnect(): Promise<void>
}
