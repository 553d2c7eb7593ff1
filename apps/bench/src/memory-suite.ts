import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRandom } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { ConversationMemory, createLocalEmbedder, Memory } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import Database from 'better-sqlite3'
import { annReady } from './ann-ready.js'
import { percentile, type Stats, timed, timeEach } from './measure.js'
import {
  conversationIdOf,
  memoryItems,
  type PlannedTurn,
  plannedTurns,
  recallQueries,
  userIdOf,
} from './memory-workload.js'
import { attempt, describeError, formatMs, printResultTable, type ResultRow } from './result-table.js'
import type { SuiteOptions } from './suite-options.js'

/** Sizes of one memory-suite run. */
export interface MemorySizes {
  conversations: number
  turns: number
  /** Users the conversations are spread over (10 conversations each at full size). */
  users: number
  memories: number
  /** Timed read calls per case. */
  calls: number
  /** Timed recall queries per case. */
  queries: number
}

/** The sizes: 10,000 conversations × 50 turns, recall at 100,000 memories. */
export const FULL_MEMORY_SIZES: MemorySizes = {
  conversations: 10_000,
  turns: 50,
  users: 1000,
  memories: 100_000,
  calls: 2000,
  queries: 200,
}
export const SMOKE_MEMORY_SIZES: MemorySizes = {
  conversations: 20,
  turns: 6,
  users: 5,
  memories: 300,
  calls: 20,
  queries: 10,
}

/** Options of the memory suite on top of the common ones. */
export interface MemorySuiteOptions extends SuiteOptions {
  sizes?: Partial<MemorySizes>
  /** Longest a peer without a batch API may spend storing the memories before it stops. Default is `900`. */
  ingestBudgetSeconds?: number
}

const TOP_K = 10
const DIMENSIONS = 384

/** A conversation store under test: the raw hand-written SQLite baseline or engram's ConversationMemory. */
interface ConversationSystem {
  system: string
  role: 'raw' | 'engram'
  store: (userId: string, conversationId: string, turn: PlannedTurn['turn']) => unknown
  lastTurns: (userId: string, conversationId: string) => Promise<unknown[]> | unknown[]
  listConversations: (userId: string) => Promise<unknown[]> | unknown[]
  close: () => Promise<void>
}

/**
 * What an agent backend does all day: store chat turns one by one, read a conversation's last
 * turns and a user's conversation list, and recall memories by meaning. engram's
 * ConversationMemory and Memory on SQLite and PostgreSQL, beside a hand-written better-sqlite3
 * baseline for the conversation calls and @framers/agentos's Memory for recall.
 */
export async function memorySuite(options: MemorySuiteOptions): Promise<void> {
  const chosen = { ...(options.smoke ? SMOKE_MEMORY_SIZES : FULL_MEMORY_SIZES), ...options.sizes }
  // Every user needs at least one conversation, or the list reads would have nothing to find.
  const sizes = { ...chosen, users: Math.min(chosen.users, chosen.conversations) }
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-memory-'))
  const schema = `engram_bench_memory_${process.pid}`
  console.log(
    `\n## memory: ${sizes.conversations.toLocaleString('en-US')} conversations × ${sizes.turns} turns (${sizes.users.toLocaleString('en-US')} users); recall at ${sizes.memories.toLocaleString('en-US')} memories, local embedder ${DIMENSIONS} dims`,
  )
  try {
    await conversations(sizes, folder, options.pgUrl, schema)
    await recall(sizes, folder, options.pgUrl, schema, (options.ingestBudgetSeconds ?? 900) * 1000)
  } finally {
    rmSync(folder, { recursive: true, force: true })
    const admin = createPostgresAdapter({ connectionString: options.pgUrl, max: 1 })
    await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await admin.close().catch(() => undefined)
  }
}

async function conversations(sizes: MemorySizes, folder: string, url: string, schema: string): Promise<void> {
  const total = sizes.conversations * sizes.turns
  const ingest: ResultRow[] = []
  const reads: ResultRow[] = []
  const lists: ResultRow[] = []
  const systems: Array<[string, 'raw' | 'engram', () => Promise<ConversationSystem>]> = [
    ['raw better-sqlite3', 'raw', async () => rawConversations(join(folder, 'raw-conversations.db'))],
    [
      'engram ConversationMemory, SQLite',
      'engram',
      () =>
        engramConversations(
          'engram ConversationMemory, SQLite',
          createSqliteNativeAdapter({ filename: join(folder, 'conversations.db') }),
        ),
    ],
    [
      'engram ConversationMemory, PostgreSQL',
      'engram',
      async () => {
        const admin = createPostgresAdapter({ connectionString: url, max: 1 })
        await admin.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
        await admin.close()
        return engramConversations(
          'engram ConversationMemory, PostgreSQL',
          createPostgresAdapter({ connectionString: url, searchPath: [schema, 'public'] }),
        )
      },
    ],
  ]
  for (const [name, role, open] of systems) {
    let system: ConversationSystem
    try {
      system = await open()
    } catch (error) {
      const failed: ResultRow = { system: name, role, error: describeError(error) }
      ingest.push(failed)
      reads.push(failed)
      lists.push(failed)
      continue
    }
    try {
      // Every system stores the same turns in the same interleaved order, one call at a time.
      const turns = plannedTurns(sizes.conversations, sizes.turns, sizes.users)
      const stored = await timeEach(total, () => {
        const next = turns.next()
        if (next.done) throw new Error('ran out of planned turns')
        return system.store(next.value.userId, next.value.conversationId, next.value.turn)
      })
      const backend = system.system.includes('PostgreSQL') ? 'postgres' : 'sqlite'
      ingest.push({ system: system.system, role: system.role, stats: stored, backend })
      const random = seededRandom(99)
      const pick = () => {
        const c = Math.floor(random() * sizes.conversations)
        return [userIdOf(c % sizes.users), conversationIdOf(c)] as const
      }
      let wrong = 0
      const read = async () => {
        const [user, conversation] = pick()
        if ((await system.lastTurns(user, conversation)).length !== Math.min(50, sizes.turns)) wrong++
      }
      const list = async () => {
        const u = Math.floor(random() * sizes.users)
        const user = userIdOf(u)
        // Conversation c belongs to user c % users, so the first (conversations % users) users have one more.
        const owned =
          Math.floor(sizes.conversations / sizes.users) + (u < sizes.conversations % sizes.users ? 1 : 0)
        const expected = Math.min(20, owned)
        if ((await system.listConversations(user)).length !== expected) wrong++
      }
      // As many warm-up calls as timed ones: what an agent loop sees after its first seconds, when
      // the JIT has compiled every layer of each system's path, not how cold each one starts.
      for (let i = 0; i < sizes.calls; i++) await read()
      reads.push({
        system: system.system,
        role: system.role,
        stats: await timeEach(sizes.calls, read),
        backend,
      })
      for (let i = 0; i < sizes.calls; i++) await list()
      lists.push({
        system: system.system,
        role: system.role,
        stats: await timeEach(sizes.calls, list),
        backend,
      })
      if (wrong > 0) throw new Error(`${wrong} reads returned the wrong number of rows`)
    } catch (error) {
      // A failure mid-way still leaves a row in every table, saying why.
      for (const table of [ingest, reads, lists]) {
        const row = table.find((r) => r.system === system.system)
        if (row) row.error = describeError(error)
        else table.push({ system: system.system, role: system.role, error: describeError(error) })
      }
    } finally {
      await system.close()
    }
  }
  const note =
    'One call at a time, as one agent loop makes them. PostgreSQL shares the 2 cores with the client.'
  printResultTable({
    suite: 'memory',
    title: `Store a chat turn (${total.toLocaleString('en-US')} turns, interleaved across conversations)`,
    unit: 'turns',
    rows: ingest,
    notes: [note],
  })
  printResultTable({
    suite: 'memory',
    title: "Read a conversation's first 50 turns after the ingest",
    unit: 'reads',
    rows: reads,
    notes: [note],
  })
  printResultTable({
    suite: 'memory',
    title: "List a user's 20 latest conversations after the ingest",
    unit: 'reads',
    rows: lists,
    notes: [note],
  })
}

/**
 * The hand-written baseline: ConversationMemory's two tables with the same columns and indexes,
 * prepared statements, one transaction per turn, and the same reads (the same columns, the same
 * order and tie-breaks), returning the driver's rows as they come.
 */
function rawConversations(path: string): ConversationSystem {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.exec(`
    CREATE TABLE conversations (user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, agent_id TEXT,
      created_at INTEGER NOT NULL, last_activity INTEGER NOT NULL, title TEXT, summary TEXT, persona TEXT,
      PRIMARY KEY (user_id, conversation_id));
    CREATE INDEX conversations_by_recent ON conversations (user_id, last_activity DESC, conversation_id);
    CREATE TABLE turns (seq INTEGER PRIMARY KEY, storage_id TEXT NOT NULL, user_id TEXT NOT NULL,
      conversation_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT, created_at INTEGER NOT NULL,
      agent_id TEXT, model TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER,
      tool_calls TEXT, tool_call_id TEXT, metadata TEXT, summary TEXT,
      FOREIGN KEY (user_id, conversation_id) REFERENCES conversations (user_id, conversation_id) ON DELETE CASCADE);
    CREATE UNIQUE INDEX turns_storage_id ON turns (user_id, storage_id);
    CREATE INDEX turns_by_time ON turns (user_id, conversation_id, created_at, seq);`)
  const upsert =
    db.prepare(`INSERT INTO conversations (user_id, conversation_id, agent_id, created_at, last_activity)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, conversation_id) DO UPDATE SET
    last_activity = MAX(last_activity, excluded.last_activity), agent_id = COALESCE(excluded.agent_id, agent_id)`)
  const insert =
    db.prepare(`INSERT INTO turns (storage_id, user_id, conversation_id, role, content, created_at,
    agent_id, model, prompt_tokens, completion_tokens, total_tokens, tool_calls, tool_call_id, metadata, summary)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const first = db.prepare(
    `SELECT storage_id, user_id, conversation_id, role, content, created_at, agent_id, model, prompt_tokens,
    completion_tokens, total_tokens, tool_calls, tool_call_id, metadata, summary
    FROM turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at, seq LIMIT 50`,
  )
  const latest = db.prepare(
    `SELECT user_id, conversation_id, agent_id, created_at, last_activity, title, summary, persona
    FROM conversations WHERE user_id = ? ORDER BY last_activity DESC, conversation_id LIMIT 20`,
  )
  const store = db.transaction((userId: string, conversationId: string, turn: PlannedTurn['turn']) => {
    const at = turn.timestamp ?? Date.now()
    upsert.run(userId, conversationId, turn.agentId ?? null, at, at)
    insert.run(
      randomUUID(),
      userId,
      conversationId,
      turn.role,
      turn.content ?? null,
      at,
      turn.agentId ?? null,
      turn.model ?? null,
      turn.usage?.prompt_tokens ?? null,
      turn.usage?.completion_tokens ?? null,
      turn.usage?.total_tokens ?? null,
      turn.tool_calls === undefined ? null : JSON.stringify(turn.tool_calls),
      turn.tool_call_id ?? null,
      turn.metadata ? JSON.stringify(turn.metadata) : null,
      turn.summary ?? null,
    )
  })
  return {
    system: 'raw better-sqlite3 (hand-written, same tables)',
    role: 'raw',
    store: (u, c, t) => store(u, c, t),
    lastTurns: (u, c) => first.all(u, c),
    listConversations: (u) => latest.all(u),
    close: async () => {
      db.close()
    },
  }
}

async function engramConversations(system: string, storage: StorageAdapter): Promise<ConversationSystem> {
  const memory = new ConversationMemory(storage, { closeAdapter: true })
  await memory.initialize()
  return {
    system,
    role: 'engram',
    store: (u, c, t) => memory.storeConversationTurn(u, c, t),
    lastTurns: (u, c) => memory.retrieveConversationTurns(u, c, { limit: 50 }),
    listConversations: (u) => memory.listUserConversations(u, { limit: 20 }),
    close: () => memory.close(),
  }
}

type MemoryItem = ReturnType<typeof memoryItems>[number]

/** A memory layer under test: ingest everything, then recall. */
interface RecallSystem {
  system: string
  role: 'engram' | 'alternative'
  /** Stores the items the way the library recommends for bulk; returns how and how many (nothing when another row already did). */
  ingest: (items: ReturnType<typeof memoryItems>) => Promise<{ how: string; stored: number } | undefined>
  recall: (query: string) => Promise<number>
  /** Stores one more memory the way an agent does between recalls (the default-mode rows only). */
  remember?: (item: MemoryItem) => Promise<unknown>
  /** Resolves once any index the system builds after a bulk load answers (timed apart from the ingest). */
  ready?: () => Promise<void>
  /** How many memories the system holds after the ingest, by its own count (the default-mode rows only). */
  held?: () => Promise<number>
  close: () => Promise<void>
}

async function recall(
  sizes: MemorySizes,
  folder: string,
  url: string,
  schema: string,
  ingestBudgetMs: number,
): Promise<void> {
  const queries = recallQueries(sizes.queries)
  const rounds = Math.max(1, Math.floor(sizes.queries / 2))
  // The memories stored between recalls in the after-write case follow the ingested ones.
  const generated = memoryItems(sizes.memories + rounds)
  const items = generated.slice(0, sizes.memories)
  const later = generated.slice(sizes.memories)
  const afterWrite: ResultRow[] = []
  const embed = createLocalEmbedder({ dimensions: DIMENSIONS })
  const rows: ResultRow[] = []
  const engramRecall = (memory: Memory, mode: 'hybrid' | 'text' | 'vector') => async (query: string) =>
    (await memory.recall(query, { topK: TOP_K, mode })).length
  const engramIngest = (memory: Memory) => async (all: ReturnType<typeof memoryItems>) => {
    for (let i = 0; i < all.length; i += 10_000) await memory.rememberMany(all.slice(i, i + 10_000))
    return { how: 'rememberMany, 10,000 per call', stored: all.length }
  }
  const openers: Array<[string, () => Promise<RecallSystem[]>]> = [
    [
      'engram Memory, SQLite',
      async () => {
        const memory = await Memory.open({ path: join(folder, 'memory.db'), embed })
        return (['hybrid', 'text', 'vector'] as const).map((mode, i) => ({
          system: `engram Memory, SQLite (default: sqlite-native + hnsw sidecar), ${mode}`,
          role: 'engram' as const,
          ingest: i === 0 ? engramIngest(memory) : async () => undefined,
          recall: engramRecall(memory, mode),
          ...(i === 0
            ? {
                ready: () => annReady(memory.vectors, memory.collection),
                remember: ({ text, ...options }: MemoryItem) => memory.remember(text, options),
                held: () => memory.count(),
              }
            : {}),
          close: i === 2 ? () => memory.close() : async () => undefined,
        }))
      },
    ],
    [
      'engram Memory, PostgreSQL',
      async () => {
        const admin = createPostgresAdapter({ connectionString: url, max: 1 })
        await admin.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
        await admin.close()
        const storage = createPostgresAdapter({ connectionString: url, searchPath: [schema, 'public'] })
        const memory = await Memory.open({ storage, embed })
        const ingest = engramIngest(memory)
        return (['hybrid', 'text', 'vector'] as const).map((mode, i) => ({
          system: `engram Memory, PostgreSQL (PgVectorStore), ${mode}`,
          role: 'engram' as const,
          ingest:
            i === 0
              ? async (all: ReturnType<typeof memoryItems>) => {
                  const done = await ingest(all)
                  // Fresh statistics after a bulk load, as an application would run (or wait for
                  // autovacuum): without them the planner skipped the HNSW index and every
                  // recall scanned the table (249 ms instead of about 2 ms per vector query).
                  await storage.exec('ANALYZE')
                  return done
                }
              : async () => undefined,
          recall: engramRecall(memory, mode),
          ...(i === 0
            ? {
                ready: () => annReady(memory.vectors, memory.collection),
                remember: ({ text, ...options }: MemoryItem) => memory.remember(text, options),
                held: () => memory.count(),
              }
            : {}),
          close:
            i === 2
              ? async () => {
                  await memory.close()
                  await storage.close()
                }
              : async () => undefined,
        }))
      },
    ],
    [
      '@framers/agentos 0.9.164 Memory, SQLite',
      async () => {
        // Its facade ships only the SQLite path on Node; the embedder is engram's local one, so both
        // sides rank the same vectors, and its own hnswlib sidecar switches on past 1,000 traces.
        const { Memory: AgentOsMemory } = await import('@framers/agentos/memory')
        const memory = await AgentOsMemory.createSqlite(join(folder, 'agentos.sqlite'), {
          embed: async (text: string) => Array.from((await embed([text]))[0] as Float32Array),
          embeddings: { provider: 'local', dimensions: DIMENSIONS },
        })
        return [
          {
            system: '@framers/agentos 0.9.164 Memory.createSqlite (FTS5 + its hnsw sidecar), recall',
            role: 'alternative' as const,
            ingest: async (all) => {
              // It has no batch API: remember() one at a time is the documented path. Its rate
              // falls as the store grows, so a full run stops at a time budget and says where.
              const started = performance.now()
              let stored = 0
              for (const item of all) {
                await memory.remember(item.text, { tags: item.tags ?? [] })
                stored++
                if (performance.now() - started > ingestBudgetMs) break
              }
              if (stored < all.length) {
                const seconds = Math.round(ingestBudgetMs / 1000)
                return {
                  how: `remember, one at a time (no batch API); STOPPED at the ${seconds} s budget after ${stored.toLocaleString('en-US')} of ${all.length.toLocaleString('en-US')}, so its recall ran at ${stored.toLocaleString('en-US')} memories`,
                  stored,
                }
              }
              return { how: 'remember, one at a time (no batch API)', stored }
            },
            recall: async (query) => (await memory.recall(query, { limit: TOP_K })).length,
            remember: (item) => memory.remember(item.text, { tags: item.tags ?? [] }),
            // It drops a text it already holds (by content hash), so it may hold fewer than it was given.
            held: async () => (await memory.health()).activeTraces,
            close: () => memory.close(),
          },
        ]
      },
    ],
  ]
  for (const [name, open] of openers) {
    let systems: RecallSystem[]
    try {
      systems = await open()
    } catch (error) {
      rows.push({
        system: name,
        role: name.startsWith('engram') ? 'engram' : 'alternative',
        error: describeError(error),
      })
      continue
    }
    let ingestCell = '-'
    let readyCell = '-'
    let heldCell = '-'
    for (const system of systems) {
      const row = await attempt(system.system, system.role, async () => {
        const loaded = await timed(() => system.ingest(items))
        if (loaded.value) {
          ingestCell = `${formatMs(loaded.ms)} (${Math.round((loaded.value.stored * 1000) / loaded.ms).toLocaleString('en-US')}/s, ${loaded.value.how})`
        }
        if (system.ready) readyCell = formatMs((await timed(system.ready)).ms)
        if (system.held) heldCell = (await system.held()).toLocaleString('en-US')
        // The first query pays for whatever the system still does lazily; it is reported apart from the percentiles.
        const first = await timed(() => system.recall(queries[0] as string))
        for (let i = 0; i < Math.min(20, queries.length); i++) await system.recall(queries[i] as string)
        let short = 0
        const stats: Stats = await timeEach(queries.length, async (i) => {
          if ((await system.recall(queries[i] as string)) < TOP_K) short++
        })
        return {
          stats,
          extra: {
            ingest: ingestCell,
            'memories held': heldCell,
            'index ready after ingest': readyCell,
            'first recall': formatMs(first.ms),
            'queries with < 10 hits': String(short),
          },
        }
      })
      rows.push(row)
    }
    // After the settled figures: an agent stores a memory and recalls soon after, so each timed
    // recall here follows one remember() (untimed), and every recall meets a changed collection.
    for (const system of systems) {
      const remember = system.remember
      if (remember === undefined) continue
      // The remember() calls are timed apart: a layer may do index work in them that another
      // leaves to the next recall, so the two medians are read together.
      const writes: number[] = []
      afterWrite.push(
        await attempt(system.system, system.role, async () => ({
          stats: await timeEach(rounds, (i) => system.recall(queries[i] as string), 1, {
            before: async (i) => {
              const t0 = performance.now()
              await remember(later[i] as MemoryItem)
              writes.push(performance.now() - t0)
            },
          }),
          extra: {
            'remember() before it (median)': formatMs(
              percentile(
                [...writes].sort((a, b) => a - b),
                0.5,
              ),
            ),
          },
        })),
      )
    }
    for (const system of systems) await system.close().catch(() => undefined)
  }
  printResultTable({
    suite: 'memory',
    title: `recall(query, top ${TOP_K}) at ${sizes.memories.toLocaleString('en-US')} memories`,
    unit: 'queries',
    rows,
    extraColumns: [
      'ingest',
      'memories held',
      'index ready after ingest',
      'first recall',
      'queries with < 10 hits',
    ],
    notes: [
      `${sizes.queries} different queries, one at a time, after 20 warm-up queries; no scope filter, so every query searches all memories. Every memory text is distinct (each ends with its own note number); "memories held" is each system's own count after the ingest (\`Memory.count()\`; agentos's \`health().activeTraces\`, as it drops a text it already holds). "index ready after ingest": the SQLite tier builds its HNSW index in a worker once the ingest passes 1,000 memories, a PostgreSQL memory builds pgvector's in the background from its first recall on, and both search exactly until it is ready; the suite waits for it (\`buildIndex\`) before timing recalls. "time vs raw" is empty: there is no hand-written baseline for hybrid recall.`,
    ],
  })
  printResultTable({
    suite: 'memory',
    title: `recall(query, top ${TOP_K}) right after remember(), at ${sizes.memories.toLocaleString('en-US')} memories`,
    unit: 'queries',
    rows: afterWrite,
    extraColumns: ['remember() before it (median)'],
    notes: [
      `${rounds} rounds after the recalls above, each storing one new memory with remember() and then timing one recall, as an agent loop alternates them; the default mode of each memory layer. The remember() calls are outside the recall timings; their median is the column "remember() before it". "time vs raw" is empty: there is no hand-written baseline.`,
    ],
  })
}
