import { existsSync, readdirSync } from 'node:fs'
import { dirname } from 'node:path'
import * as memoryPackage from '@engram/memory'
import { CONVERSATIONS_TABLE, Memory, TURNS_TABLE } from '@engram/memory'
import { createPgVectorStore } from '@engram/postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { columnKind, migrate, readSchema } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_mem')
afterAll(() => env.cleanup())

/** Every table name @engram/memory exports (conversations, turns, traces, graph, agent state, migrations, …). */
const MEMORY_TABLES = Object.entries(memoryPackage)
  .filter(([name, value]) => name.endsWith('_TABLE') && typeof value === 'string')
  .map(([, value]) => value as string)
  .sort()

/** A memory file with a bit of everything: turns, memories and their vectors, a document, a graph, agent state. */
async function memoryFile(): Promise<string> {
  const path = env.file('memory.db')
  const memory = await Memory.open({ path })
  for (let i = 0; i < 30; i++) {
    await memory.conversations.storeConversationTurn('ada', `chat-${i % 3}`, {
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `turn ${i}: sourdough, rye and 🍞`,
      metadata: { n: i },
    })
  }
  await memory.remember('Ada bakes sourdough on Sundays', {
    scope: 'user:ada',
    userId: 'ada',
    conversationId: 'chat-0',
  })
  await memory.remember('Ada is allergic to peanuts', { scope: 'user:ada', tags: ['health'] })
  await memory.ingest({ id: 'doc-1', text: 'Rye needs a longer proof than wheat. '.repeat(40), title: 'Rye' })
  await memory.graph.addEntity({ id: 'ada', name: 'Ada', type: 'person', properties: { city: 'Lisbon' } })
  await memory.graph.addEntity({ id: 'rye', name: 'Rye', type: 'grain' })
  await memory.graph.addRelation('ada', 'rye', 'bakes', { weight: 0.5 })
  await memory.state.save('agent-1', { step: 3, plan: ['proof', 'bake'] })
  await memory.close()
  return path
}

describe('migrating a memory from SQLite to PostgreSQL', () => {
  let source: string
  /** Every table of the memory file: what `Memory.open` made, whether or not @engram/memory exports its name. */
  let allTables: string[]

  beforeAll(async () => {
    source = await memoryFile()
    allTables = (await readSchema(env.sqlite(source))).tables.map((t) => t.name).sort()
  })

  it('moves every memory table and the memories collection, verified, and the memory works there', async () => {
    const { name, url } = await env.schema()
    const result = await migrate({ from: source, to: url, verify: true, batchSize: 7 })
    expect(result.verified).toBe(true)
    expect(result.mismatches).toEqual([])
    expect(MEMORY_TABLES.length).toBeGreaterThanOrEqual(8)
    expect(allTables).toEqual(expect.arrayContaining(MEMORY_TABLES))
    expect(result.tables.map((t) => t.name).sort()).toEqual(allTables)
    expect(result.tables.every((t) => t.copied === t.sourceRows && t.status === 'copied')).toBe(true)
    expect(result.collections).toEqual([
      { name: 'memories', sourceRows: expect.any(Number), copied: expect.any(Number), status: 'copied' },
    ])
    expect(result.vectors).toBe(result.collections[0]?.sourceRows)
    expect(result.rows).toBe(result.totalRows)

    const storage = env.postgres(name)
    const memory = await Memory.open({ storage, vectors: createPgVectorStore({ adapter: storage }) })
    const turns = await memory.conversations.retrieveConversationTurns('ada', 'chat-0')
    expect(turns.map((t) => t.content)).toEqual(
      Array.from({ length: 10 }, (_, i) => `turn ${i * 3}: sourdough, rye and 🍞`),
    )
    expect(turns[1]?.metadata).toEqual({ n: 3 })
    const [hit] = await memory.recall('bakes sourdough on Sundays', { scope: 'user:ada' })
    expect(hit?.trace.text).toBe('Ada bakes sourdough on Sundays')
    expect(await memory.graph.neighbors('ada')).toMatchObject([{ entity: { id: 'rye' } }])
    expect(await memory.state.load('agent-1')).toEqual({ step: 3, plan: ['proof', 'bake'] })
    // New rows get new keys: the identity sequence was moved past the copied ones.
    await memory.conversations.storeConversationTurn('ada', 'chat-0', {
      role: 'user',
      content: 'after the move',
    })
    expect((await memory.conversations.retrieveConversationTurns('ada', 'chat-0')).at(-1)?.content).toBe(
      'after the move',
    )
    await memory.close()
  })

  it('creates tables that match what @engram/memory itself creates on PostgreSQL', async () => {
    const migrated = await env.schema()
    await migrate({ from: source, to: migrated.url, tables: allTables })
    const native = await env.schema()
    const storage = env.postgres(native.name)
    await (await Memory.open({ storage, vectors: createPgVectorStore({ adapter: storage }) })).close()
    const shape = async (schema: string) =>
      (await readSchema(env.postgres(schema), { tables: allTables })).tables.map((t) => ({
        name: t.name,
        columns: t.columns.map((c) => [
          c.name,
          columnKind('postgres', c.type),
          c.notNull,
          c.identity ?? null,
        ]),
        primaryKey: t.primaryKey,
        indexes: t.indexes.map((i) => [i.name, i.unique, i.columns]).sort(),
        foreignKeys: t.foreignKeys,
      }))
    expect(await shape(migrated.name)).toEqual(await shape(native.name))
  })

  it('adds nothing when a finished migration runs again', async () => {
    const { name, url } = await env.schema()
    await migrate({ from: source, to: url })
    const counts = async () => {
      const db = env.postgres(name)
      return Promise.all(
        allTables.map(async (t) => (await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))?.n),
      )
    }
    const before = await counts()
    const again = await migrate({ from: source, to: url, verify: true })
    expect(again.rows).toBe(0)
    expect(again.vectors).toBe(0)
    expect([...again.tables, ...again.collections].every((t) => t.status === 'already-done')).toBe(true)
    expect(again.verified).toBe(true)
    expect(await counts()).toEqual(before)
  })

  it('accepts the older libraries’ { type, path } and { type, connectionString } shapes', async () => {
    const { name, url } = await env.schema()
    const result = await migrate({
      from: { type: 'sqlite', path: source },
      to: { type: 'postgres', connectionString: url },
      tables: [CONVERSATIONS_TABLE, TURNS_TABLE],
    })
    expect(result.tables.map((t) => t.name)).toEqual([CONVERSATIONS_TABLE, TURNS_TABLE])
    expect(await env.tablesIn(name)).toEqual([
      'engram_conversation_turns',
      'engram_conversations',
      'engram_migrate_checkpoints',
    ])
    await expect(migrate({ from: source, to: { type: 'postgres', autoSetup: true } })).rejects.toThrow(
      /does not provision servers/,
    )
  })

  it('dry run: counts and plans, and leaves no target tables in PostgreSQL', async () => {
    const { name, url } = await env.schema()
    const result = await migrate({ from: source, to: url, dryRun: true })
    expect(result.dryRun).toBe(true)
    expect(result.problems).toEqual([])
    expect(result.tables.every((t) => t.status === 'planned' && t.sourceRows >= 0)).toBe(true)
    expect(result.rows).toBe(result.tables.reduce((n, t) => n + t.sourceRows, 0))
    expect(result.vectors).toBeGreaterThan(0)
    expect(await env.tablesIn(name)).toEqual([])
  })

  it('dry run: leaves no target file, not even a journal', async () => {
    const target = env.file('target.db')
    const result = await migrate({ from: source, to: target, dryRun: true })
    expect(result.tables.length).toBe(allTables.length)
    expect(result.problems).toEqual([])
    expect(existsSync(target)).toBe(false)
    expect(readdirSync(dirname(target))).toEqual([])
  })

  it('copies SQLite to SQLite with the tables’ own statements, and verifies', async () => {
    const target = env.file('copy.db')
    const result = await migrate({ from: source, to: target, verify: true })
    expect(result.verified).toBe(true)
    const memory = await Memory.open({ path: target })
    expect(await memory.conversations.retrieveConversationTurns('ada', 'chat-1')).toHaveLength(10)
    await memory.close()
  })

  it('moves PostgreSQL back to SQLite', async () => {
    const { url } = await env.schema()
    await migrate({ from: source, to: url })
    const back = env.file('back.db')
    const result = await migrate({ from: url, to: back, verify: true })
    expect(result.verified).toBe(true)
    expect(result.tables.reduce((n, t) => n + t.copied, 0)).toBeGreaterThan(30)
    const memory = await Memory.open({ path: back })
    const [hit] = await memory.recall('peanut allergy', { scope: 'user:ada' })
    expect(hit?.trace.text).toBe('Ada is allergic to peanuts')
    await memory.close()
  })

  it('refuses dryRun, resume or verify that is not a boolean before opening either end', async () => {
    for (const flag of ['dryRun', 'resume', 'verify']) {
      const options = { from: source, to: 'postgres://nobody@127.0.0.1:1/none', [flag]: 'false' }
      const error = await migrate(options as never).catch((e: unknown) => e)
      expect(error, flag).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `${flag} must be true or false, got "false"`,
      })
    }
  })

  it('stops before writing anything when the target already holds rows, and says which choices there are', async () => {
    const { name, url } = await env.schema()
    const storage = env.postgres(name)
    await (await Memory.open({ storage, vectors: createPgVectorStore({ adapter: storage }) })).close()
    const error = await migrate({ from: source, to: url }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect((error as Error).message).toMatch(/engram_migrations already holds \d+ rows.*'skip'.*'replace'/)
    expect(await storage.get(`SELECT COUNT(*) AS n FROM ${TURNS_TABLE}`)).toEqual({ n: 0 })
    const replaced = await migrate({ from: source, to: url, onConflict: 'replace', verify: true })
    expect(replaced.verified).toBe(true)
  })
})
