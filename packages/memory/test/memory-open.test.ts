import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import type { SqliteVectorStore } from '@engram/sqlite-vector'
import { createSqlJsAdapter } from '@engram/sqljs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { ConversationMemory } from '../src/conversation-memory.js'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'
import type { MemoryOptions } from '../src/memory-options.js'
import type { MemoryWarning } from '../src/memory-warning.js'
import { PG_URL } from './storage-backends.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-memory-open-'))
const embed = createLocalEmbedder({ dimensions: 32 })
const opened: Array<{ close(): Promise<void> }> = []
const schemas: string[] = []
let admin: StorageAdapter | undefined
let files = 0

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close().catch(() => undefined)
})
afterAll(async () => {
  if (admin) {
    for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  }
  rmSync(folder, { recursive: true, force: true })
})

const newFile = () => join(folder, `memory-${++files}.db`)

function track<T extends { close(): Promise<void> }>(item: T): T {
  opened.push(item)
  return item
}

async function open(options: MemoryOptions): Promise<Memory> {
  return track(await Memory.open({ embed, ...options }))
}

/** A Postgres URL on a fresh schema (then public, for pgvector's types), dropped at the end. */
async function postgresUrl(): Promise<string> {
  admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  const schema = `engram_mopen_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
  await admin.exec(`CREATE SCHEMA ${schema}`)
  schemas.push(schema)
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema},public`)
  return url.toString()
}

/** Remembers `count` notes and reports whether the collection's HNSW index took over. */
async function indexedAfter(memory: Memory, count: number): Promise<boolean> {
  for (let i = 0; i < count; i++) await memory.remember(`note about the number ${i}`)
  expect((await memory.recall('number', { mode: 'vector' })).length).toBeGreaterThan(0)
  return (await (memory.vectors as SqliteVectorStore).annStatus(memory.collection)).open
}

/**
 * A SQLite build without FTS5 or FTS4, as some platforms ship: the same database, through an
 * adapter that reports no full-text search, as such a driver does.
 */
function withoutFullText(adapter: StorageAdapter): StorageAdapter {
  const capabilities = { ...adapter.capabilities, fts: false as const }
  const wrap = (inner: StorageAdapter): StorageAdapter => ({
    kind: 'sqlite-without-fts',
    dialect: inner.dialect,
    capabilities,
    exec: (sql) => inner.exec(sql),
    run: (sql, params) => inner.run(sql, params),
    get: (sql, params) => inner.get(sql, params),
    all: (sql, params) => inner.all(sql, params),
    iterate: (sql, params) => inner.iterate(sql, params),
    transaction: (fn) => inner.transaction((tx) => fn(wrap(tx))),
    close: () => inner.close(),
  })
  return wrap(adapter)
}

describe('Memory.open({ storage }) with a URL or a path', () => {
  it('opens a SQLite path itself, keeps the HNSW index beside it, and closes it on close()', async () => {
    const memory = await open({ storage: newFile(), exactBelow: 3 })
    expect(memory.storage.kind).toBe('sqlite-native')
    expect(await indexedAfter(memory, 3)).toBe(true)
    await memory.close()
    await expectStorageError(memory.storage.get('SELECT 1'), 'CLOSED')
  })

  it('opens a file: URL, and says the HNSW index needs the file named to be kept beside it', async () => {
    const warnings: MemoryWarning[] = []
    const memory = await open({
      storage: pathToFileURL(newFile()).href,
      exactBelow: 3,
      onWarning: (warning) => warnings.push(warning),
    })
    expect(memory.storage.kind).toBe('sqlite-native')
    expect(await indexedAfter(memory, 3)).toBe(false)
    expect(warnings.map((w) => w.kind)).toEqual(['hnsw-unavailable'])
  })

  it('opens a postgres:// URL with pgvector, and closes the pool it opened on close()', async () => {
    const memory = await open({ storage: await postgresUrl() })
    expect(memory.storage.kind).toBe('postgres')
    expect(memory.vectors.kind).toBe('pgvector')
    await memory.remember('Ada keeps bees')
    expect((await memory.recall('bees'))[0]?.trace.text).toBe('Ada keeps bees')
    await memory.close()
    await expectStorageError(memory.storage.get('SELECT 1'), 'CLOSED')
  })

  it('opens createDatabase options, and closes what it opened', async () => {
    const memory = await open({ storage: { type: 'sqlite-native', filename: newFile() }, exactBelow: 2 })
    expect(await indexedAfter(memory, 2)).toBe(true)
    await memory.close()
    await expectStorageError(memory.storage.get('SELECT 1'), 'CLOSED')
  })

  it('leaves an adapter it was given open', async () => {
    const adapter = track(createSqliteNativeAdapter({ filename: newFile() }))
    const memory = await open({ storage: adapter, exactBelow: 3, onWarning: () => {} })
    expect(await indexedAfter(memory, 3)).toBe(false)
    await memory.close()
    expect(await adapter.get('SELECT COUNT(*) AS n FROM engram_traces')).toEqual({ n: 3 })
  })

  it('keeps the HNSW index beside the file path names for an adapter it was given', async () => {
    const file = newFile()
    const adapter = track(createSqliteNativeAdapter({ filename: file }))
    const memory = await open({ storage: adapter, path: file, exactBelow: 3 })
    expect(await indexedAfter(memory, 3)).toBe(true)
  })

  it('refuses storage given as undefined (an unset DATABASE_URL) instead of opening SQLite', async () => {
    const unset: string | undefined = process.env.ENGRAM_TEST_SURELY_UNSET
    const error = await expectStorageError(Memory.open({ storage: unset, embed }), 'INVALID_ARGUMENT')
    expect(error.message).toContain('DATABASE_URL')
    await expectStorageError(
      // @ts-expect-error: a JavaScript caller can pass anything
      Memory.open({ storage: 42, embed }),
      'INVALID_ARGUMENT',
    )
  })
})

describe('ConversationMemory.open', () => {
  it('closes a database it opened from a URL or path', async () => {
    for (const target of [newFile(), await postgresUrl()]) {
      const history = track(await ConversationMemory.open(target))
      await history.storeConversationTurn('u1', 'c1', { role: 'user', content: 'hi' })
      await history.close()
      await expectStorageError(history.storage.get('SELECT 1'), 'CLOSED')
    }
  })

  it('leaves an adapter it was given open', async () => {
    const adapter = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    const history = await ConversationMemory.open(adapter)
    await history.storeConversationTurn('u1', 'c1', { role: 'user', content: 'hi' })
    await history.close()
    expect(await adapter.get('SELECT COUNT(*) AS n FROM engram_conversation_turns')).toEqual({ n: 1 })
  })

  it('refuses undefined with a message about an unset variable', async () => {
    // @ts-expect-error: process.env.DATABASE_URL is string | undefined
    const error = await expectStorageError(ConversationMemory.open(undefined), 'INVALID_ARGUMENT')
    expect(error.message).toContain('DATABASE_URL')
  })
})

describe('tier warnings', () => {
  function collect(): { warnings: MemoryWarning[]; onWarning: (w: MemoryWarning) => void } {
    const warnings: MemoryWarning[] = []
    return { warnings, onWarning: (warning) => warnings.push(warning) }
  }

  it('tells once, at exactBelow records, that search stays exact on an adapter whose file it was not told', async () => {
    const { warnings, onWarning } = collect()
    const adapter = track(await createSqlJsAdapter({ filename: newFile() }))
    const memory = await open({ storage: adapter, exactBelow: 3, onWarning })
    await memory.rememberMany([{ text: 'one' }, { text: 'two' }])
    expect(warnings).toEqual([])
    await memory.remember('three')
    expect(warnings.map((w) => w.kind)).toEqual(['hnsw-unavailable'])
    expect(warnings[0]?.message).toContain('exact scan of 3 records')
    expect(warnings[0]?.message).toContain('createSqliteVectorStore({ adapter, ann: { path } })')
    expect(warnings[0]?.message).toContain('a sqljs adapter')
    await memory.rememberMany([{ text: 'four' }, { text: 'five' }])
    await memory.recall('four')
    expect(warnings).toHaveLength(1)
  })

  it('tells at open when the collection is already past exactBelow', async () => {
    const file = newFile()
    const adapter = track(await createSqlJsAdapter({ filename: file }))
    const first = await open({ storage: adapter, exactBelow: 2, onWarning: () => {} })
    await first.rememberMany([{ text: 'one' }, { text: 'two' }])
    await first.close()
    const { warnings, onWarning } = collect()
    await open({ storage: adapter, exactBelow: 2, onWarning })
    expect(warnings.map((w) => w.kind)).toEqual(['hnsw-unavailable'])
  })

  it('counts what is really stored, so forgotten memories do not bring the warning early', async () => {
    const { warnings, onWarning } = collect()
    const adapter = track(await createSqlJsAdapter({ filename: newFile() }))
    const memory = await open({ storage: adapter, exactBelow: 3, onWarning })
    for (let i = 0; i < 4; i++) await memory.forget((await memory.remember(`passing note ${i}`)).id)
    expect(warnings).toEqual([])
    expect(await memory.count()).toBe(0)
  })

  it('tells once that recall falls back from hybrid when the SQLite has no full-text search', async () => {
    const { warnings, onWarning } = collect()
    const memory = await open({
      storage: withoutFullText(track(createSqliteNativeAdapter({ filename: newFile() }))),
      onWarning,
    })
    expect(memory.vectors.capabilities.hybrid).toBe(false)
    await memory.remember('Ada keeps bees')
    await memory.recall('bees', { mode: 'vector' })
    expect(warnings).toEqual([])
    expect((await memory.recall('bees'))[0]?.trace.text).toBe('Ada keeps bees')
    await memory.recall('bees again')
    expect(warnings.map((w) => w.kind)).toEqual(['full-text-unavailable'])
    expect(warnings[0]?.message).toContain("mode: 'vector'")
  })

  it('says nothing about hybrid recall for a vector store the caller chose', async () => {
    const { warnings, onWarning } = collect()
    const adapter = withoutFullText(track(createSqliteNativeAdapter({ filename: newFile() })))
    const { createSqliteVectorStore } = await import('@engram/sqlite-vector')
    const memory = await open({
      storage: adapter,
      vectors: (a) => createSqliteVectorStore({ adapter: a }),
      onWarning,
    })
    await memory.remember('Ada keeps bees')
    await memory.recall('bees')
    expect(warnings).toEqual([])
  })

  it('keeps a remember that committed when the warning handler throws', async () => {
    const adapter = track(await createSqlJsAdapter({ filename: newFile() }))
    const memory = await open({
      storage: adapter,
      exactBelow: 1,
      onWarning: () => {
        throw new Error('handler failed')
      },
    })
    await memory.remember('kept')
    expect(await memory.count()).toBe(1)
  })

  it('refuses an onWarning that is not a function', async () => {
    // @ts-expect-error: a JavaScript caller can pass anything
    await expectStorageError(Memory.open({ path: newFile(), embed, onWarning: 'log' }), 'INVALID_ARGUMENT')
  })
})
