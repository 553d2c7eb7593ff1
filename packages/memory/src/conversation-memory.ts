import { booleanOption, isStorageError, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import {
  checkImport,
  type ImportCounts,
  type ImportedConversation,
  type ImportedTurn,
  writeImport,
} from './conversation-import.js'
import {
  CONVERSATION_COLUMNS,
  marks,
  TURN_COLUMNS,
  TURN_MARKS,
  toConversation,
  toStoredTurn,
  turnParams,
  turnRow,
} from './conversation-rows.js'
import { CONVERSATION_SCHEMA, CONVERSATIONS_TABLE, TURNS_TABLE } from './conversation-schema.js'
import { checkCount, checkRole, toMillis } from './conversation-values.js'
import type {
  Conversation,
  ConversationTurn,
  ConversationUpdate,
  IMemoryAdapter,
  ListConversationsOptions,
  PruneHistoryOptions,
  RetrieveTurnsOptions,
  StoredConversationTurn,
} from './memory-adapter.js'
import {
  checkKey,
  checkOptions,
  checkText,
  checkUserId,
  describeValue,
  isPlainObject,
} from './memory-input.js'
import { type MigrationReport, migrateSchema } from './migrate-schema.js'
import { openStorage, type StorageTarget } from './open-storage.js'

/** Options for `new ConversationMemory(adapter, config)`. */
export interface ConversationMemoryConfig {
  /** Close the adapter when the memory is closed. Default is `false` (`ConversationMemory.open` sets it when it opened the database). */
  closeAdapter?: boolean
  /**
   * Runs after `deleteConversation` commits, whether or not the conversation existed, so
   * whatever was derived from it (memories, vectors) can go too; a retry after a failure
   * reaches it again. It runs outside the transaction, so it may use the adapter freely.
   */
  onDeleteConversation?: (userId: string, conversationId: string) => Promise<void> | void
  /**
   * Runs inside `deleteConversation`'s transaction, after the turns and the conversation row are
   * deleted and before the commit, with the transaction's adapter: what it deletes there goes
   * with the conversation or not at all, even if the process is killed. Use `tx`, never the outer
   * adapter. A rejection rolls the whole delete back.
   */
  onDeleteInTransaction?: (tx: StorageAdapter, userId: string, conversationId: string) => Promise<void>
}

// A bound `LIMIT ?` made SQLite's reads about 3× slower than a constant (34 against 10 µs measured);
// `?+0` is an expression, planned like the constant, and keeps one statement text for every page.
const PAGE = 'LIMIT ?+0 OFFSET ?+0'

/** A page of a conversation's turns, in time order then storage order. */
function readTurns(where: string, order: 'asc' | 'desc'): string {
  const direction = order === 'asc' ? 'ASC' : 'DESC'
  return `SELECT ${TURN_COLUMNS} FROM ${TURNS_TABLE} WHERE ${where}
    ORDER BY created_at ${direction}, seq ${direction} ${PAGE}`
}

// The hot statements are built once: the adapters look statements up by their text.
const READ_TURNS = {
  asc: readTurns('user_id = ? AND conversation_id = ?', 'asc'),
  desc: readTurns('user_id = ? AND conversation_id = ?', 'desc'),
}
/** A page of a user's conversations, newest activity first, ties by id (the order of `engram_conversations_by_recent`). */
const LIST = `SELECT ${CONVERSATION_COLUMNS} FROM ${CONVERSATIONS_TABLE} WHERE user_id = ?
  ORDER BY last_activity DESC, conversation_id ASC ${PAGE}`
const LIST_BY_AGENT = `SELECT ${CONVERSATION_COLUMNS} FROM ${CONVERSATIONS_TABLE} WHERE user_id = ? AND agent_id = ?
  ORDER BY last_activity DESC, conversation_id ASC ${PAGE}`
const GET_CONVERSATION = `SELECT ${CONVERSATION_COLUMNS} FROM ${CONVERSATIONS_TABLE} WHERE user_id = ? AND conversation_id = ?`
const UPDATABLE: readonly (keyof ConversationUpdate)[] = ['title', 'summary', 'persona', 'agentId']
const COLUMN_OF: Readonly<Record<keyof ConversationUpdate, string>> = {
  title: 'title',
  summary: 'summary',
  persona: 'persona',
  agentId: 'agent_id',
}
// Keeps last_activity the newest time seen; CASE rather than MAX()/GREATEST() works on both dialects.
const NEWEST_ACTIVITY = `last_activity = CASE WHEN excluded.last_activity > ${CONVERSATIONS_TABLE}.last_activity
  THEN excluded.last_activity ELSE ${CONVERSATIONS_TABLE}.last_activity END`

/** Creates the conversation on its first turn, or moves its last activity (and agent) forward. */
const UPSERT_CONVERSATION = `INSERT INTO ${CONVERSATIONS_TABLE} (user_id, conversation_id, agent_id, created_at, last_activity)
  VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (user_id, conversation_id) DO UPDATE SET ${NEWEST_ACTIVITY},
    agent_id = COALESCE(excluded.agent_id, ${CONVERSATIONS_TABLE}.agent_id)`

/**
 * Conversation history for agents, on any `StorageAdapter` (SQLite or Postgres). Every call
 * is scoped by user id: the same conversation id under two users is two conversations.
 *
 * @example
 * const memory = await ConversationMemory.open('./data/chat.db')
 * await memory.storeConversationTurn('u1', 'c1', { role: 'user', content: 'Hello' })
 * const turns = await memory.retrieveConversationTurns('u1', 'c1')
 */
export class ConversationMemory implements IMemoryAdapter {
  /** The adapter the memory stores into. */
  readonly storage: StorageAdapter
  readonly #closeAdapter: boolean
  readonly #onDelete: ConversationMemoryConfig['onDeleteConversation']
  readonly #onDeleteInTransaction: ConversationMemoryConfig['onDeleteInTransaction']
  #ready: Promise<MigrationReport> | undefined
  /** Set once the migrations have run, so later calls skip waiting for them. */
  #migrated = false
  #closed = false

  /** Uses an open adapter; call `initialize()` (or any method, which does it first). */
  constructor(storage: StorageAdapter, config: ConversationMemoryConfig = {}) {
    if (!storage || typeof storage.transaction !== 'function' || typeof storage.dialect !== 'string') {
      throw new StorageError('INVALID_ARGUMENT', 'ConversationMemory needs a StorageAdapter')
    }
    const checked = checkOptions(config, 'config')
    for (const hook of ['onDeleteConversation', 'onDeleteInTransaction'] as const) {
      if (checked[hook] !== undefined && typeof checked[hook] !== 'function') {
        throw new StorageError('INVALID_ARGUMENT', `config.${hook} must be a function`)
      }
    }
    this.storage = storage
    this.#closeAdapter = booleanOption(checked.closeAdapter, false, 'closeAdapter')
    this.#onDelete = checked.onDeleteConversation
    this.#onDeleteInTransaction = checked.onDeleteInTransaction
  }

  /**
   * Opens conversation memory on a database URL or file path (`'postgres://…'`, `'./data/chat.db'`)
   * or `createDatabase` options, which it opens and closes on `close()`, or on an open
   * `StorageAdapter`, which stays yours to close. It migrates the tables before it returns.
   *
   * @example
   * const history = await ConversationMemory.open(process.env.DATABASE_URL ?? './data/chat.db')
   */
  static async open(target: StorageTarget): Promise<ConversationMemory> {
    const { storage, owned } = await openStorage(target, 'The storage given to ConversationMemory.open()')
    const memory = new ConversationMemory(storage, { closeAdapter: owned })
    try {
      await memory.initialize()
    } catch (error) {
      await memory.close()
      throw error
    }
    return memory
  }

  /** Creates or upgrades the tables once; later calls return at once. */
  async initialize(): Promise<void> {
    await this.migrate()
  }

  /** Like `initialize()`, but returns the report of this instance's (single) migration run. */
  migrate(): Promise<MigrationReport> {
    if (this.#closed) return Promise.reject(closedError())
    if (this.#ready === undefined) {
      const ready = migrateSchema(this.storage, CONVERSATION_SCHEMA)
      // A failed attempt is forgotten so the next call can try again.
      ready.then(
        () => {
          if (this.#ready === ready) this.#migrated = true
        },
        () => {
          if (this.#ready === ready) this.#ready = undefined
        },
      )
      this.#ready = ready
    }
    return this.#ready
  }

  /** Stores a turn and returns its storage id; creates the conversation on first use and moves its last activity forward. */
  async storeConversationTurn(
    userId: string,
    conversationId: string,
    turn: ConversationTurn,
  ): Promise<string> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    if (!isPlainObject(turn)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `turn must be a plain object with a role; got ${describeValue(turn)}`,
      )
    }
    const storageId = turn.storageId === undefined ? newId() : checkKey(turn.storageId, 'turn.storageId')
    const row = turnRow(userId, conversationId, storageId, turn, turn.timestamp ?? Date.now(), false)
    const values = turnParams(row)
    if (!this.#migrated || this.#closed) await this.#opened()
    const conversation = [userId, conversationId, row.agent_id, row.created_at, row.created_at]
    try {
      if (this.storage.dialect === 'postgres') {
        // One statement (a data-modifying CTE) is one round trip and atomic on its own: a turn
        // costs a quarter of the BEGIN / upsert / insert / COMMIT sequence over the network.
        await this.storage.run(
          `WITH conversation AS (${UPSERT_CONVERSATION} RETURNING 1)
           INSERT INTO ${TURNS_TABLE} (${TURN_COLUMNS}) VALUES (${TURN_MARKS})`,
          [...conversation, ...values],
        )
      } else {
        await this.storage.transaction(async (tx) => {
          await tx.run(UPSERT_CONVERSATION, conversation)
          await tx.run(`INSERT INTO ${TURNS_TABLE} (${TURN_COLUMNS}) VALUES (${TURN_MARKS})`, values)
        })
      }
    } catch (error) {
      if (isStorageError(error, 'UNIQUE_VIOLATION')) {
        throw new StorageError(
          'UNIQUE_VIOLATION',
          `This user already has a turn with storageId ${describeValue(storageId)}; leave storageId out to get a fresh one`,
          { cause: error },
        )
      }
      throw error
    }
    return storageId
  }

  /** Returns a conversation's turns, ordered by time and then by the order they were stored. */
  async retrieveConversationTurns(
    userId: string,
    conversationId: string,
    options?: RetrieveTurnsOptions,
  ): Promise<StoredConversationTurn[]> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    options = checkOptions(options, 'options')
    const limit = checkCount(options.limit, 'limit', 50)
    const offset = checkCount(options.offset, 'offset', 0)
    const order = options.order ?? 'asc'
    if (order !== 'asc' && order !== 'desc') {
      throw new StorageError('INVALID_ARGUMENT', `order must be 'asc' or 'desc'; got ${describeValue(order)}`)
    }
    let sql = READ_TURNS[order]
    let params: SqlValue[] = [userId, conversationId, limit, offset]
    if (
      options.since !== undefined ||
      options.before !== undefined ||
      options.roles !== undefined ||
      options.agentId !== undefined
    ) {
      const where = ['user_id = ?', 'conversation_id = ?']
      params = [userId, conversationId]
      if (options.since !== undefined) {
        where.push('created_at >= ?')
        params.push(toMillis(options.since, 'since'))
      }
      if (options.before !== undefined) {
        where.push('created_at < ?')
        params.push(toMillis(options.before, 'before'))
      }
      if (options.agentId !== undefined) {
        where.push('agent_id = ?')
        params.push(checkKey(options.agentId, 'agentId'))
      }
      if (options.roles !== undefined) {
        if (!Array.isArray(options.roles)) {
          throw new StorageError(
            'INVALID_ARGUMENT',
            `roles must be an array of roles; got ${describeValue(options.roles)}`,
          )
        }
        const roles = [...new Set(options.roles.map(checkRole))]
        if (roles.length === 0) {
          if (!this.#migrated || this.#closed) await this.#opened()
          return []
        }
        where.push(`role IN (${marks(roles.length)})`)
        params.push(...roles)
      }
      params.push(limit, offset)
      sql = readTurns(where.join(' AND '), order)
    }
    if (!this.#migrated || this.#closed) await this.#opened()
    const rows = await this.storage.all(sql, params)
    return rows.map(toStoredTurn)
  }

  /** Returns the user's conversations, most recent activity first. */
  async listUserConversations(userId: string, options?: ListConversationsOptions): Promise<Conversation[]> {
    checkUserId(userId)
    options = checkOptions(options, 'options')
    const limit = checkCount(options.limit, 'limit', 50)
    const offset = checkCount(options.offset, 'offset', 0)
    const params: SqlValue[] =
      options.agentId === undefined
        ? [userId, limit, offset]
        : [userId, checkKey(options.agentId, 'agentId'), limit, offset]
    if (!this.#migrated || this.#closed) await this.#opened()
    const rows = await this.storage.all(options.agentId === undefined ? LIST : LIST_BY_AGENT, params)
    return rows.map(toConversation)
  }

  /** Returns one conversation's record, or `undefined` when this user has none by that id. */
  async getConversation(userId: string, conversationId: string): Promise<Conversation | undefined> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    if (!this.#migrated || this.#closed) await this.#opened()
    const row = await this.storage.get(GET_CONVERSATION, [userId, conversationId])
    return row === undefined ? undefined : toConversation(row)
  }

  /** Sets (or with `null` clears) the persona, creating the conversation when it does not exist yet. */
  async setConversationPersona(
    userId: string,
    conversationId: string,
    persona: string | null,
  ): Promise<void> {
    await this.updateConversation(userId, conversationId, { persona: checkText(persona, 'persona') })
  }

  /** Changes a conversation's title, summary, persona or agent, creating the conversation when needed. */
  async updateConversation(
    userId: string,
    conversationId: string,
    update: ConversationUpdate,
  ): Promise<void> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    if (!isPlainObject(update)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `update must be a plain object; got ${describeValue(update)}`,
      )
    }
    const fields = UPDATABLE.filter((field) => update[field] !== undefined)
    const columns = fields.map((field) => COLUMN_OF[field])
    const values = fields.map((field) =>
      field === 'agentId' && update.agentId !== null
        ? checkKey(update.agentId, 'agentId')
        : checkText(update[field], field),
    )
    const now = Date.now()
    const onConflict =
      columns.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${columns.map((column) => `${column} = excluded.${column}`).join(', ')}`
    if (!this.#migrated || this.#closed) await this.#opened()
    await this.storage.run(
      `INSERT INTO ${CONVERSATIONS_TABLE} (user_id, conversation_id, created_at, last_activity${columns.map((c) => `, ${c}`).join('')})
       VALUES (${marks(4 + columns.length)})
       ON CONFLICT (user_id, conversation_id) ${onConflict}`,
      [userId, conversationId, now, now, ...values],
    )
  }

  /**
   * Removes turns and returns how many. `keepLast` keeps the newest N; `olderThan` removes
   * turns from before a moment; with both, only turns that are old and not among the newest N go.
   */
  async pruneHistory(userId: string, conversationId: string, options: PruneHistoryOptions): Promise<number> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    const { keepLast, olderThan } = checkOptions(options, 'options')
    if (keepLast === undefined && olderThan === undefined) {
      throw new StorageError('INVALID_ARGUMENT', 'pruneHistory needs keepLast, olderThan or both')
    }
    const params: Record<string, SqlValue> = { user: userId, conversation: conversationId }
    let sql = `DELETE FROM ${TURNS_TABLE} WHERE user_id = :user AND conversation_id = :conversation`
    if (olderThan !== undefined) {
      params.before = toMillis(olderThan, 'olderThan')
      sql += ' AND created_at < :before'
    }
    if (keepLast !== undefined) {
      params.keep = checkCount(keepLast, 'keepLast', 0)
      sql += ` AND seq NOT IN (SELECT seq FROM ${TURNS_TABLE} WHERE user_id = :user AND conversation_id = :conversation
        ORDER BY created_at DESC, seq DESC LIMIT :keep + 0)`
    }
    if (!this.#migrated || this.#closed) await this.#opened()
    return (await this.storage.run(sql, params)).changes
  }

  /** Deletes a conversation and all its turns; `true` when this user had it. */
  async deleteConversation(userId: string, conversationId: string): Promise<boolean> {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    if (!this.#migrated || this.#closed) await this.#opened()
    const existed = await this.storage.transaction(async (tx) => {
      // Explicit, because a SQLite connection may run with foreign keys (and so the cascade) off.
      const turns = await tx.run(`DELETE FROM ${TURNS_TABLE} WHERE user_id = ? AND conversation_id = ?`, [
        userId,
        conversationId,
      ])
      const conversation = await tx.run(
        `DELETE FROM ${CONVERSATIONS_TABLE} WHERE user_id = ? AND conversation_id = ?`,
        [userId, conversationId],
      )
      await this.#onDeleteInTransaction?.(tx, userId, conversationId)
      return conversation.changes > 0 || turns.changes > 0
    })
    await this.#onDelete?.(userId, conversationId)
    return existed
  }

  /**
   * Writes conversations and turns as another store had them, in one transaction, keeping
   * their ids; anything already present is skipped, so running the same import twice adds
   * nothing. Conversations go in before turns; a turn whose conversation is missing creates it.
   */
  async importBatch(batch: {
    conversations?: readonly ImportedConversation[]
    turns?: readonly ImportedTurn[]
  }): Promise<ImportCounts> {
    const checked = checkImport(batch)
    if (!this.#migrated || this.#closed) await this.#opened()
    return this.storage.transaction((tx) => writeImport(tx, checked))
  }

  /** Stops the memory; closes the adapter too when the memory opened it (or was told to). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#closeAdapter) await this.storage.close()
  }

  /**
   * Fails when closed, and before the first migration has finished returns it to wait for. Calls
   * come here only while one of the two holds, so afterwards they await nothing but their query
   * (an `await` of nothing still costs a turn of the microtask queue, measurable on a 3 µs read).
   */
  #opened(): Promise<MigrationReport> | undefined {
    if (this.#closed) throw closedError()
    return this.#migrated ? undefined : this.migrate()
  }
}

function newId(): string {
  return globalThis.crypto.randomUUID()
}

function closedError(): StorageError {
  return new StorageError('CLOSED', 'This ConversationMemory is closed; open a new one to keep working')
}
