import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectStorageError } from '@engram/conformance'
import type { SqlValue } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import { importLegacySqliteMemory, type LegacyImportReport } from '../src/import-legacy-sqlite-memory.js'
import { postgresBackend, sqliteMemoryBackend, type TestBackend } from './storage-backends.js'

const T0 = Date.UTC(2024, 5, 1)
const USERS = ['u0', 'u1', 'u2']
const CONVERSATIONS = 60
const TURNS_PER_CONVERSATION = 50
const ROLES = ['user', 'assistant', 'system', 'tool']

const folder = mkdtempSync(join(tmpdir(), 'engram-legacy-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const LEGACY_SCHEMA = `
  CREATE TABLE conversations (
    conversationId TEXT PRIMARY KEY, userId TEXT, agentId TEXT, createdAt INTEGER, lastActivity INTEGER,
    summary TEXT, title TEXT, persona TEXT);
  CREATE TABLE conversation_turns (
    storageId TEXT PRIMARY KEY, conversationId TEXT, userId TEXT, agentId TEXT, role TEXT, content TEXT,
    timestamp INTEGER, model TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER,
    tool_calls TEXT, tool_call_id TEXT, metadata TEXT, summary TEXT);`

/** What the generated legacy file holds, to check the import against. */
interface LegacyExpectation {
  validConversations: number
  validTurns: number
  invalidRows: number
  totalRows: number
}

/**
 * Writes a legacy better-sqlite3 chat database the way an old agent backend left it:
 * 3,000 ordinary turns plus the quirks the importer must survive.
 */
async function writeLegacyDatabase(path: string, wal = false): Promise<LegacyExpectation> {
  const db = createSqliteNativeAdapter({ filename: path, wal })
  await db.exec(LEGACY_SCHEMA)
  await db.transaction(async (tx) => {
    for (let c = 0; c < CONVERSATIONS; c++) {
      const created: SqlValue =
        c === 0 ? new Date(T0).toISOString() : c === 2 ? '2024-06-01 00:00:00' : T0 + c
      await tx.run('INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
        `conv-${c}`,
        USERS[c % 3]!,
        c === 1 ? null : `agent-${c % 2}`,
        c === 1 ? null : created,
        c === 0 ? new Date(T0 + 99_000).toISOString() : T0 + c + 49_000,
        c === 1 ? null : `summary ${c}`,
        c === 1 ? null : `title ${c}`,
        c === 1 ? null : `persona ${c}`,
      ])
      for (let t = 0; t < TURNS_PER_CONVERSATION; t++) {
        const i = c * TURNS_PER_CONVERSATION + t
        const at = T0 + c + t * 1000
        await tx.run('INSERT INTO conversation_turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
          `s-${i}`,
          `conv-${c}`,
          USERS[c % 3]!,
          `agent-${c % 2}`,
          ROLES[t % 4]!,
          `content ${i}`,
          i % 7 === 0 ? new Date(at).toISOString() : at,
          t % 5 === 0 ? null : 'model-a',
          t % 3 === 0 ? null : 10,
          t % 3 === 0 ? null : 5,
          t % 3 === 0 ? null : 15,
          i % 13 === 0 ? JSON.stringify([{ id: `call-${i}`, type: 'function' }]) : null,
          t % 4 === 3 ? `call-${i - 1}` : null,
          i % 11 === 0 ? '{broken' : JSON.stringify({ n: i }),
          null,
        ])
      }
    }
    // The quirks, each one row.
    await tx.run("INSERT INTO conversations (conversationId, userId, createdAt) VALUES ('no-user', NULL, 1)")
    const quirk = `INSERT INTO conversation_turns (storageId, conversationId, userId, role, content, timestamp, metadata)
      VALUES (?, ?, ?, ?, ?, ?, ?)`
    await tx.run(quirk, ['q-function-role', 'conv-3', 'u0', 'function', 'old API', T0, null])
    await tx.run(quirk, ['q-no-conversation', null, 'u0', 'user', 'lost', T0, null])
    await tx.run(quirk, ['q-borrowed-user', 'conv-4', null, 'user', 'user from conversation', T0 + 4, null])
    await tx.run(quirk, [null, 'conv-5', 'u2', 'user', 'no storage id', T0 + 5, null])
    await tx.run(quirk, ['q-no-time', 'conv-6', 'u0', 'user', 'no timestamp', null, null])
    await tx.run(quirk, ['q-array-meta', 'conv-7', 'u1', 'user', 'array metadata', T0 + 7, '[1,2]'])
    await tx.run(quirk, ['q-orphan-1', 'orphan', 'u1', 'user', 'first', T0 + 500, null])
    await tx.run(quirk, ['q-orphan-2', 'orphan', 'u1', 'assistant', 'second', T0 + 900, null])
  })
  await db.close()
  const ordinary = CONVERSATIONS * TURNS_PER_CONVERSATION
  return {
    validConversations: CONVERSATIONS + 1, // plus the orphan, made from its turns
    validTurns: ordinary + 6,
    invalidRows: 3, // the conversation without a user, the 'function' turn, the turn without a conversation
    totalRows: CONVERSATIONS + 1 + ordinary + 8,
  }
}

function describeLegacyImport(backend: TestBackend): void {
  describe(`importLegacySqliteMemory into ${backend.name}`, () => {
    const legacyPath = join(folder, `legacy-${backend.dialect}-${backend.name.length}.db`)
    let expected: LegacyExpectation
    beforeAll(async () => {
      expected = await writeLegacyDatabase(legacyPath)
    })
    afterEach(() => backend.closeAll())
    afterAll(() => backend.cleanup())

    async function fresh(): Promise<ConversationMemory> {
      return new ConversationMemory((await backend.create()).open())
    }

    it('imports every valid row in batches, then nothing on a second run', async () => {
      const memory = await fresh()
      const progress: LegacyImportReport[] = []
      const invalid: string[] = []
      const first = await importLegacySqliteMemory(legacyPath, memory, {
        batchSize: 400,
        onProgress: (report) => progress.push(report),
        onInvalid: (_row, reason) => invalid.push(reason),
      })
      expect(first).toEqual({
        conversations: expected.validConversations,
        turns: expected.validTurns,
        skipped: expected.invalidRows,
        invalid: expected.invalidRows,
      })
      expect(invalid).toHaveLength(3)
      expect(invalid.join('\n')).toMatch(/no userId/)
      expect(invalid.join('\n')).toMatch(/role 'function'/)
      expect(invalid.join('\n')).toMatch(/no conversationId/)
      // 61 conversation rows fit one page; 3,008 turn rows take eight pages of 400.
      expect(progress).toHaveLength(1 + 8)
      expect(progress.map((p) => p.turns)).toEqual([...progress.map((p) => p.turns)].sort((a, b) => a - b))

      const second = await importLegacySqliteMemory(legacyPath, memory)
      expect(second).toEqual({
        conversations: 0,
        turns: 0,
        skipped: expected.totalRows,
        invalid: expected.invalidRows,
      })
      const count = await memory.storage.get<{ n: number }>(
        'SELECT COUNT(*) AS n FROM engram_conversation_turns',
      )
      expect(Number(count?.n)).toBe(expected.validTurns)
    })

    it('keeps the legacy ids, fields and turn order', async () => {
      const memory = await fresh()
      await importLegacySqliteMemory(legacyPath, memory)
      const turns = await memory.retrieveConversationTurns('u1', 'conv-1', { limit: 100 })
      expect(turns).toHaveLength(TURNS_PER_CONVERSATION)
      expect(turns.map((t) => t.storageId)).toEqual(
        Array.from({ length: TURNS_PER_CONVERSATION }, (_, t) => `s-${TURNS_PER_CONVERSATION + t}`),
      )
      expect(turns[1]).toEqual({
        storageId: 's-51',
        userId: 'u1',
        conversationId: 'conv-1',
        role: 'assistant',
        content: 'content 51',
        timestamp: T0 + 1 + 1000,
        agentId: 'agent-1',
        model: 'model-a',
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        tool_calls: null,
        tool_call_id: null,
        metadata: { n: 51 },
        summary: null,
      })
      // Legacy NULLs stay null; an ISO-string timestamp (turn 56 = 7 × 8) becomes milliseconds.
      expect(turns[0]).toMatchObject({ model: null, usage: null })
      expect(turns[6]).toMatchObject({ storageId: 's-56', timestamp: T0 + 1 + 6000 })
      const conversation = await memory.getConversation('u1', 'conv-1')
      // createdAt was NULL: it falls back to lastActivity.
      expect(conversation).toEqual({
        conversationId: 'conv-1',
        userId: 'u1',
        agentId: null,
        createdAt: T0 + 1 + 49_000,
        lastActivity: T0 + 1 + 49_000,
        title: null,
        summary: null,
        persona: null,
      })
    })

    it('tolerates legacy quirks: date strings, invalid JSON, missing ids and users, orphans', async () => {
      const memory = await fresh()
      await importLegacySqliteMemory(legacyPath, memory)
      expect(await memory.getConversation('u0', 'conv-0')).toMatchObject({
        createdAt: T0,
        lastActivity: T0 + 99_000,
        title: 'title 0',
        persona: 'persona 0',
        agentId: 'agent-0',
      })
      // '2024-06-01 00:00:00' is SQLite's CURRENT_TIMESTAMP form: UTC, not local time.
      expect((await memory.getConversation('u2', 'conv-2'))?.createdAt).toBe(T0)

      const [broken] = await memory.retrieveConversationTurns('u0', 'conv-0', { limit: 1 })
      expect(broken).toMatchObject({ storageId: 's-0', metadata: { raw: '{broken' }, timestamp: T0 })
      expect(broken?.tool_calls).toEqual([{ id: 'call-0', type: 'function' }])
      const raw = await memory.storage.get<{ metadata: string }>(
        "SELECT metadata FROM engram_conversation_turns WHERE storage_id = 's-0'",
      )
      expect(raw?.metadata).toBe('{broken')

      const borrowed = await memory.retrieveConversationTurns('u1', 'conv-4', { roles: ['user'], limit: 100 })
      expect(borrowed.find((t) => t.storageId === 'q-borrowed-user')?.content).toBe('user from conversation')
      const conv5 = await memory.retrieveConversationTurns('u2', 'conv-5', { limit: 100 })
      const noId = conv5.find((t) => t.content === 'no storage id')
      expect(noId?.storageId).toMatch(/^legacy-\d+$/)
      const conv6 = await memory.retrieveConversationTurns('u0', 'conv-6', { limit: 100 })
      expect(conv6.find((t) => t.storageId === 'q-no-time')?.timestamp).toBe(T0 + 6)
      const conv7 = await memory.retrieveConversationTurns('u1', 'conv-7', { limit: 100 })
      expect(conv7.find((t) => t.storageId === 'q-array-meta')?.metadata).toEqual({ raw: '[1,2]' })

      expect(await memory.getConversation('u1', 'orphan')).toMatchObject({
        createdAt: T0 + 500,
        lastActivity: T0 + 900,
      })
      const orphan = await memory.retrieveConversationTurns('u1', 'orphan')
      expect(orphan.map((t) => t.content)).toEqual(['first', 'second'])

      const perUser = await Promise.all(
        USERS.map((user) => memory.listUserConversations(user, { limit: 100 })),
      )
      expect(perUser.map((list) => list.length)).toEqual([20, 21, 20])
      for (const [i, list] of perUser.entries()) for (const c of list) expect(c.userId).toBe(USERS[i])
    })
  })
}

describeLegacyImport(sqliteMemoryBackend())
describeLegacyImport(postgresBackend())

describe('importLegacySqliteMemory edge cases', () => {
  it('imports in place, from legacy tables in the same file the memory uses', async () => {
    for (const wal of [false, true]) {
      const path = join(folder, `in-place-${wal}.db`)
      const expected = await writeLegacyDatabase(path, wal)
      const memory = await ConversationMemory.open({ type: 'sqlite-native', filename: path, wal })
      try {
        const report = await importLegacySqliteMemory(path, memory, { batchSize: 250 })
        expect(report.turns).toBe(expected.validTurns)
        // The legacy tables are still there, untouched, beside the new ones.
        const legacy = await memory.storage.get<{ n: number }>('SELECT COUNT(*) AS n FROM conversation_turns')
        expect(Number(legacy?.n)).toBe(CONVERSATIONS * TURNS_PER_CONVERSATION + 8)
      } finally {
        await memory.close()
      }
    }
  })

  it('reads older legacy files that lack columns or the conversations table', async () => {
    const path = join(folder, 'old-shape.db')
    const db = createSqliteNativeAdapter({ filename: path, wal: false })
    await db.exec(
      'CREATE TABLE conversation_turns (storageId TEXT, conversationId TEXT, userId TEXT, role TEXT, content TEXT, timestamp TEXT)',
    )
    await db.run("INSERT INTO conversation_turns VALUES ('a', 'c', 'u', 'user', 'hi', '1717200000000')")
    await db.run(
      "INSERT INTO conversation_turns VALUES ('b', 'c', 'u', 'assistant', 'hello', '2024-06-01T00:00:01Z')",
    )
    await db.close()
    const memory = await ConversationMemory.open({ type: 'sqlite-native', filename: ':memory:' })
    try {
      expect(await importLegacySqliteMemory(path, memory)).toEqual({
        conversations: 1,
        turns: 2,
        skipped: 0,
        invalid: 0,
      })
      const turns = await memory.retrieveConversationTurns('u', 'c')
      expect(turns.map((t) => [t.storageId, t.timestamp, t.model])).toEqual([
        ['a', 1717200000000, null],
        ['b', 1717200001000, null],
      ])
    } finally {
      await memory.close()
    }
  })

  it('reports legacy rows whose ids memory refuses (too long, NUL) as invalid and imports the rest', async () => {
    const path = join(folder, 'bad-ids.db')
    const db = createSqliteNativeAdapter({ filename: path })
    await db.exec(LEGACY_SCHEMA)
    const turn = `INSERT INTO conversation_turns (storageId, conversationId, userId, role, content, timestamp)
      VALUES (?, ?, ?, 'user', 'x', ?)`
    await db.run(turn, ['ok', 'c', 'u', T0])
    await db.run(turn, ['long-user', 'c', 'u'.repeat(257), T0])
    await db.run(turn, ['nul-user', 'c', 'u\u0000v', T0])
    await db.run(turn, ['long-conversation', 'c'.repeat(513), 'u', T0])
    await db.run(turn, ['s'.repeat(513), 'c', 'u', T0])
    await db.run('INSERT INTO conversations (conversationId, userId, createdAt) VALUES (?, ?, ?)', [
      'c\u0000d',
      'u',
      T0,
    ])
    await db.close()
    const memory = await ConversationMemory.open({ type: 'sqlite-native', filename: ':memory:' })
    try {
      const reasons: string[] = []
      const report = await importLegacySqliteMemory(path, memory, {
        onInvalid: (_row, reason) => reasons.push(reason),
      })
      expect(report).toMatchObject({ turns: 1, invalid: 5 })
      expect(reasons.join('\n')).toMatch(/at most 256 characters/)
      expect(reasons.join('\n')).toMatch(/NUL/)
      expect((await memory.retrieveConversationTurns('u', 'c')).map((t) => t.storageId)).toEqual(['ok'])
    } finally {
      await memory.close()
    }
  })

  it('refuses a file that is not a legacy chat database, and a missing file', async () => {
    const path = join(folder, 'other.db')
    const db = createSqliteNativeAdapter({ filename: path })
    await db.exec('CREATE TABLE notes (id INTEGER)')
    await db.close()
    const memory = await ConversationMemory.open({ type: 'sqlite-native', filename: ':memory:' })
    try {
      const error = await expectStorageError(importLegacySqliteMemory(path, memory), 'INVALID_ARGUMENT')
      expect(error.message).toMatch(/no conversation_turns table/)
      await expectStorageError(
        importLegacySqliteMemory(join(folder, 'missing.db'), memory),
        'CONNECTION_FAILED',
      )
      await expectStorageError(importLegacySqliteMemory('', memory), 'INVALID_ARGUMENT')
    } finally {
      await memory.close()
    }
  })
})
