import { createDatabase, type Row, type StorageAdapter, StorageError } from '@engram/core'
import type { ImportCounts, ImportedConversation, ImportedTurn } from './conversation-import.js'
import type { ConversationMemory } from './conversation-memory.js'
import { TURN_ROLES, type TurnRole } from './memory-adapter.js'
import { checkKey, checkOptions, checkUserId, describeValue } from './memory-input.js'

/** Options for `importLegacySqliteMemory`. */
export interface LegacyImportOptions {
  /** Rows read and written per transaction. Default is `500`. */
  batchSize?: number
  /** Called after each batch with the totals so far. */
  onProgress?: (report: LegacyImportReport) => void
  /** Called for each legacy row that cannot be imported, with the reason. */
  onInvalid?: (row: Row, reason: string) => void
}

/** What an import did. */
export interface LegacyImportReport {
  /** Conversations created (from the legacy table, or from turns whose conversation row was missing). */
  conversations: number
  /** Turns imported. */
  turns: number
  /** Rows not imported: already present from an earlier run, or `invalid`. */
  skipped: number
  /** Of the skipped rows, those that could not be imported at all (no user or conversation id, unknown role). */
  invalid: number
}

const CONVERSATION_FIELDS = [
  'conversationId',
  'userId',
  'agentId',
  'createdAt',
  'lastActivity',
  'summary',
  'title',
  'persona',
] as const
const TURN_FIELDS = [
  'storageId',
  'conversationId',
  'userId',
  'agentId',
  'role',
  'content',
  'timestamp',
  'model',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'tool_calls',
  'tool_call_id',
  'metadata',
  'summary',
] as const
// SQLite's CURRENT_TIMESTAMP form, which is UTC but which Date.parse would read as local time.
const ZONELESS = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/
const decoder = new TextDecoder()

/**
 * Imports a legacy better-sqlite3 chat database (tables `conversations` and
 * `conversation_turns` with camelCase columns) into `memory`, keeping each turn's storageId,
 * so running it again imports nothing new. Rows are read in pages with `iterate()` and
 * written one transaction per page; no read is open while a page is written, so the legacy
 * tables may even live in the same file as the memory. Legacy quirks are tolerated: missing
 * columns and NULLs, timestamps as numbers or date strings, JSON columns holding text that
 * is not JSON (kept verbatim).
 */
export async function importLegacySqliteMemory(
  path: string,
  memory: ConversationMemory,
  options?: LegacyImportOptions,
): Promise<LegacyImportReport> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `path must be a database file path; got ${describeValue(path)}`,
    )
  }
  options = checkOptions(options, 'options')
  if (path === ':memory:') {
    throw new StorageError('INVALID_ARGUMENT', 'importLegacySqliteMemory needs the path of a database file')
  }
  const { onProgress, onInvalid } = options
  for (const [name, hook] of [
    ['onProgress', onProgress],
    ['onInvalid', onInvalid],
  ] as const) {
    if (hook !== undefined && typeof hook !== 'function') {
      throw new StorageError('INVALID_ARGUMENT', `options.${name} must be a function`)
    }
  }
  const batchSize = options.batchSize ?? 500
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `batchSize must be a positive integer; got ${describeValue(batchSize)}`,
    )
  }
  await memory.initialize()
  const legacy = await createDatabase({ filename: path, readonly: true, fileMustExist: true })
  const report: LegacyImportReport = { conversations: 0, turns: 0, skipped: 0, invalid: 0 }
  const add = (counts: ImportCounts): void => {
    report.conversations += counts.conversations
    report.turns += counts.turns
    report.skipped += counts.skipped
    onProgress?.({ ...report })
  }
  const reject = (row: Row, reason: string): void => {
    report.invalid++
    report.skipped++
    onInvalid?.(row, reason)
  }
  try {
    const conversationColumns = await columnsOf(legacy, 'conversations')
    const turnColumns = await columnsOf(legacy, 'conversation_turns')
    if (turnColumns.size === 0) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${path} has no conversation_turns table, so it is not a legacy chat database`,
      )
    }
    if (conversationColumns.size > 0) {
      const select = `SELECT rowid AS legacy_rowid, ${pick(conversationColumns, CONVERSATION_FIELDS)}
        FROM conversations WHERE rowid > ? ORDER BY rowid LIMIT ?`
      for await (const page of pages(legacy, select, batchSize)) {
        const conversations: ImportedConversation[] = []
        for (const row of page) {
          const conversation = toConversation(row)
          if (typeof conversation === 'string') reject(row, conversation)
          else conversations.push(conversation)
        }
        add(await memory.importBatch({ conversations }))
      }
    }
    // A turn with no time or user of its own borrows its conversation's.
    const fallback =
      conversationColumns.has('conversationId') && conversationColumns.has('userId')
        ? `, (SELECT c.userId FROM conversations c WHERE c.conversationId = t.conversationId LIMIT 1) AS legacy_user,
           (SELECT ${conversationColumns.has('createdAt') ? 'c.createdAt' : 'NULL'} FROM conversations c
            WHERE c.conversationId = t.conversationId LIMIT 1) AS legacy_created`
        : ', NULL AS legacy_user, NULL AS legacy_created'
    const select = `SELECT t.rowid AS legacy_rowid, ${pick(turnColumns, TURN_FIELDS, 't.')}${fallback}
      FROM conversation_turns t WHERE t.rowid > ? ORDER BY t.rowid LIMIT ?`
    for await (const page of pages(legacy, select, batchSize)) {
      const turns: ImportedTurn[] = []
      for (const row of page) {
        const turn = toTurn(row)
        if (typeof turn === 'string') reject(row, turn)
        else turns.push(turn)
      }
      add(await memory.importBatch({ turns }))
    }
  } finally {
    await legacy.close()
  }
  return report
}

/** Yields the table page by page (keyset on rowid), each page read in full before it is written. */
async function* pages(legacy: StorageAdapter, select: string, size: number): AsyncGenerator<Row[]> {
  let after = 0
  while (true) {
    const page: Row[] = []
    for await (const row of legacy.iterate(select, [after, size])) page.push(row)
    if (page.length === 0) return
    after = Number(page[page.length - 1]?.legacy_rowid)
    yield page
    if (page.length < size) return
  }
}

async function columnsOf(legacy: StorageAdapter, table: string): Promise<Set<string>> {
  const rows = await legacy.all<{ name: string }>('SELECT name FROM pragma_table_info(?)', [table])
  return new Set(rows.map((row) => row.name))
}

/** The select list for `fields`, with NULL standing in for columns an older legacy schema lacks. */
function pick(columns: Set<string>, fields: readonly string[], prefix = ''): string {
  return fields.map((field) => (columns.has(field) ? `${prefix}"${field}"` : `NULL AS "${field}"`)).join(', ')
}

function toConversation(row: Row): ImportedConversation | string {
  const userId = text(row.userId)
  const conversationId = text(row.conversationId)
  if (!userId) return 'the conversation has no userId'
  if (!conversationId) return 'the conversation has no conversationId'
  const refused = refusedKey(userId, conversationId)
  if (refused) return refused
  return {
    userId,
    conversationId,
    agentId: text(row.agentId),
    createdAt: millis(row.createdAt),
    lastActivity: millis(row.lastActivity),
    title: text(row.title),
    summary: text(row.summary),
    persona: text(row.persona),
  }
}

function toTurn(row: Row): ImportedTurn | string {
  const userId = text(row.userId) ?? text(row.legacy_user)
  const conversationId = text(row.conversationId)
  if (!userId) return 'the turn has no userId, and neither has its conversation'
  if (!conversationId) return 'the turn has no conversationId'
  const refused = refusedKey(userId, conversationId, text(row.storageId))
  if (refused) return refused
  const role = text(row.role)
  if (!TURN_ROLES.includes(role as TurnRole))
    return `the turn's role ${describeValue(row.role)} is not one of ${TURN_ROLES.join(', ')}`
  for (const field of ['content', 'summary', 'metadata', 'tool_calls'] as const) {
    if (text(row[field])?.includes('\u0000'))
      return `the turn's ${field} contains a NUL character, which Postgres cannot store`
  }
  const prompt = count(row.prompt_tokens)
  const completion = count(row.completion_tokens)
  const total = count(row.total_tokens)
  return {
    userId,
    conversationId,
    // Legacy rows without an id get one derived from their position, so a second run matches them.
    storageId: text(row.storageId) ?? `legacy-${String(row.legacy_rowid)}`,
    role: role as TurnRole,
    content: text(row.content),
    timestamp: millis(row.timestamp) ?? millis(row.legacy_created) ?? 0,
    agentId: text(row.agentId),
    model: text(row.model),
    usage:
      prompt === undefined && completion === undefined && total === undefined
        ? null
        : { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total },
    tool_calls: text(row.tool_calls),
    tool_call_id: text(row.tool_call_id),
    metadata: text(row.metadata),
    summary: text(row.summary),
  }
}

/** Why a legacy row's ids cannot be imported (too long, or not well-formed Unicode), or `undefined` when they can. */
function refusedKey(userId: string, conversationId: string, storageId?: string | null): string | undefined {
  try {
    checkUserId(userId)
    checkKey(conversationId, 'conversationId')
    if (storageId) checkKey(storageId, 'storageId')
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

/** Any stored value as text: blobs are decoded as UTF-8, numbers printed; empty for NULL. */
function text(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return decoder.decode(value)
  return String(value)
}

/** A legacy time (milliseconds, a numeric string or a date string) in milliseconds, or `undefined`. */
function millis(value: unknown): number | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') {
    const ms = Number(value)
    return Number.isFinite(ms) ? Math.trunc(ms) : undefined
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined
  const trimmed = value.trim()
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Math.trunc(Number(trimmed))
  const ms = Date.parse(ZONELESS.test(trimmed) ? `${trimmed.replace(' ', 'T')}Z` : trimmed)
  return Number.isFinite(ms) ? ms : undefined
}

/** A token count, or `undefined` when the legacy value is missing or not a count. */
function count(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof n === 'bigint') return n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined
}
