/** Who said a turn. */
export type TurnRole = 'user' | 'assistant' | 'system' | 'tool'

/** Every role a turn may have, in the order error messages list them. */
export const TURN_ROLES: readonly TurnRole[] = Object.freeze(['user', 'assistant', 'system', 'tool'])

/** A moment: milliseconds since the epoch, an ISO-8601 string, or a `Date`. Read back always as milliseconds. */
export type TimeInput = number | string | Date

/** Token counts as they are read back, in the OpenAI field names. Counts that are unknown are left out. */
export interface TokenUsage {
  /** Tokens in the prompt. */
  prompt_tokens?: number
  /** Tokens in the completion. */
  completion_tokens?: number
  /** Prompt plus completion tokens. */
  total_tokens?: number
}

/**
 * Token counts as a turn is stored with them: a count, or `null` (or left out) when the model did
 * not report it, as many model APIs do. Unknown counts are stored as unknown, never as `0`.
 */
export interface TokenUsageInput {
  /** Tokens in the prompt. */
  prompt_tokens?: number | null
  /** Tokens in the completion. */
  completion_tokens?: number | null
  /** Prompt plus completion tokens. */
  total_tokens?: number | null
}

/** A turn as the caller hands it to `storeConversationTurn`. Only `role` is required. */
export interface ConversationTurn {
  /** Who said it. */
  role: TurnRole
  /** What was said; `null` for an assistant turn that only calls tools. Default is `null`. */
  content?: string | null
  /** When it was said. Default is now. */
  timestamp?: TimeInput
  /** The agent that took part; also recorded on the conversation. */
  agentId?: string | null
  /** The model that produced it. */
  model?: string | null
  /** Token counts for this turn. */
  usage?: TokenUsageInput | null
  /** The tool calls an assistant turn made: any JSON value, usually an array. */
  tool_calls?: unknown
  /** The call a `tool` turn answers. */
  tool_call_id?: string | null
  /** Free-form JSON data about the turn (a plain object). */
  metadata?: Record<string, unknown> | null
  /** A short summary of the turn. */
  summary?: string | null
  /** An id to store the turn under, unique per user; a random UUID when left out. */
  storageId?: string
}

/**
 * A turn as it is read back. Optional fields are `null` when unset; `timestamp` is always
 * milliseconds since the epoch, whatever form it was stored in.
 */
export interface StoredConversationTurn {
  /** The turn's id, unique per user. */
  storageId: string
  /** The user the conversation belongs to. */
  userId: string
  /** The conversation, unique per user. */
  conversationId: string
  /** Who said it. */
  role: TurnRole
  /** What was said. */
  content: string | null
  /** When it was said, in milliseconds since the epoch. */
  timestamp: number
  /** The agent that took part. */
  agentId: string | null
  /** The model that produced it. */
  model: string | null
  /** Token counts; `null` when none were stored. */
  usage: TokenUsage | null
  /** The tool calls, parsed; an imported value that was not valid JSON comes back as its raw text. */
  tool_calls: unknown
  /** The call a `tool` turn answers. */
  tool_call_id: string | null
  /**
   * The turn's metadata. An imported value that was not a JSON object comes back as
   * `{ raw: '<the stored text>' }`, so the type stays an object and nothing is lost.
   */
  metadata: Record<string, unknown> | null
  /** A short summary of the turn. */
  summary: string | null
}

/** A conversation's record. Times are milliseconds since the epoch. */
export interface Conversation {
  /** The conversation, unique per user. */
  conversationId: string
  /** The user it belongs to. */
  userId: string
  /** The agent last recorded on it. */
  agentId: string | null
  /** When it began. */
  createdAt: number
  /** The newest turn's time (or when it was created, before any turn). */
  lastActivity: number
  /** A display title. */
  title: string | null
  /** A summary of the whole conversation. */
  summary: string | null
  /** The persona the agent plays in it. */
  persona: string | null
}

/** Options for `retrieveConversationTurns`. */
export interface RetrieveTurnsOptions {
  /** Most turns to return. Default is `50`. */
  limit?: number
  /** Turns to skip first, in the chosen order. Default is `0`. */
  offset?: number
  /**
   * `'asc'` returns the oldest turns first, `'desc'` the newest first. For the newest 50 in
   * chronological order, ask for `'desc'` and reverse. Default is `'asc'`.
   */
  order?: 'asc' | 'desc'
  /** Only turns at or after this moment. */
  since?: TimeInput
  /** Only turns from before this moment (it is excluded), for paging back in time. */
  before?: TimeInput
  /** Only turns with one of these roles. */
  roles?: readonly TurnRole[]
  /** Only turns recorded with this agent. */
  agentId?: string
}

/** Options for `listUserConversations`. */
export interface ListConversationsOptions {
  /** Most conversations to return. Default is `50`. */
  limit?: number
  /** Conversations to skip first. Default is `0`. */
  offset?: number
  /** Only conversations recorded with this agent. */
  agentId?: string
}

/** Options for `pruneHistory`; give at least one. Given both, a turn is removed only if both allow it. */
export interface PruneHistoryOptions {
  /** Keep the newest this many turns. */
  keepLast?: number
  /** Remove turns from before this moment. */
  olderThan?: TimeInput
}

/** Changes to a conversation's record; fields left out are unchanged, `null` clears one. */
export interface ConversationUpdate {
  /** A display title. */
  title?: string | null
  /** A summary of the whole conversation. */
  summary?: string | null
  /** The persona the agent plays in it. */
  persona?: string | null
  /** The agent recorded on it. */
  agentId?: string | null
}

/**
 * The conversation-memory contract agent backends already code against (its name is kept
 * from there, so swapping in `ConversationMemory` needs no renames). Every call is scoped
 * to one user: a conversation id is unique per user, never across users.
 */
export interface IMemoryAdapter {
  /** Creates or upgrades the tables; safe to call again and from several processes at once. */
  initialize(): Promise<void>
  /** Stores a turn, creating the conversation on first use, and returns the turn's storage id. */
  storeConversationTurn(userId: string, conversationId: string, turn: ConversationTurn): Promise<string>
  /** Returns a conversation's turns, oldest first unless `order` says otherwise. */
  retrieveConversationTurns(
    userId: string,
    conversationId: string,
    options?: RetrieveTurnsOptions,
  ): Promise<StoredConversationTurn[]>
  /** Returns the user's conversations, most recent activity first. */
  listUserConversations(userId: string, options?: ListConversationsOptions): Promise<Conversation[]>
  /** Sets (or with `null` clears) a conversation's persona, creating the conversation if needed. */
  setConversationPersona(userId: string, conversationId: string, persona: string | null): Promise<void>
  /** Removes old turns from a conversation and returns how many were removed. */
  pruneHistory(userId: string, conversationId: string, options: PruneHistoryOptions): Promise<number>
  /** Deletes a conversation and its turns; `true` when it existed. */
  deleteConversation(userId: string, conversationId: string): Promise<boolean>
  /** Releases the storage. Later calls fail with a `CLOSED` error. */
  close(): Promise<void>
}
