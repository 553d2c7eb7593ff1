// The memory layer under an agent's workload, on SQLite and on the local PostgreSQL:
// conversation ingest through ConversationMemory, read latency after it, and Memory recall at 100k memories.
// Build and run:
//   cd apps/bench && npx tsc -p tsconfig.build.json && node dist/memory-workload.js \
//     [--conversations 10000 --turns 50 --memories 100000 --url postgres://…]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { seededRandom } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import {
  ConversationMemory,
  type ConversationTurn,
  createLocalEmbedder,
  type ImportedTurn,
  Memory,
  type RememberOptions,
} from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'

const { values: args } = parseArgs({
  options: {
    conversations: { type: 'string', default: '10000' },
    turns: { type: 'string', default: '50' },
    users: { type: 'string', default: '1000' },
    memories: { type: 'string', default: '100000' },
    calls: { type: 'string', default: '2000' },
    queries: { type: 'string', default: '200' },
    backends: { type: 'string', default: 'sqlite,postgres' },
    'pg-concurrency': { type: 'string', default: '8' },
    'sequential-sample': { type: 'string', default: '5000' },
    'import-turns': { type: 'string', default: '10000' },
    'max-sequential-seconds': { type: 'string', default: '600' },
    url: {
      type: 'string',
      default: process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test',
    },
  },
})
const CONVERSATIONS = Number(args.conversations)
const TURNS = Number(args.turns)
const USERS = Math.min(Number(args.users), CONVERSATIONS)
const MEMORIES = Number(args.memories)
const CALLS = Number(args.calls)
const QUERIES = Number(args.queries)
const BACKENDS = (args.backends as string).split(',') as Array<'sqlite' | 'postgres'>
const PG_CONCURRENCY = Number(args['pg-concurrency'])
const SEQUENTIAL_SAMPLE = Number(args['sequential-sample'])
const IMPORT_TURNS = Number(args['import-turns'])
const MAX_SEQUENTIAL_SECONDS = Number(args['max-sequential-seconds'])
const URL = args.url as string
const REMEMBER_SAMPLE = Math.min(1000, MEMORIES)
const TOP_K = 10
const DIMENSIONS = 384

// The conformance suite's seeded generator: every run and both backends see the same data.
const seeded = seededRandom

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T

const NAMES = [
  'Ada',
  'Bruno',
  'Chen',
  'Dara',
  'Elif',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kofi',
  'Lena',
]
const TOPICS = [
  'the invoice for March',
  'my flight to Lisbon',
  'the Postgres migration',
  'a refund for order 4471',
  'the onboarding checklist',
  'our team offsite',
  'the quarterly report',
  'a broken login page',
  'the new pricing plan',
  'my running schedule',
  'a birthday gift for my sister',
  'the API rate limits',
  'the kitchen renovation',
  'a Spanish lesson plan',
  'the backup policy',
  'the conference talk',
]
const ASKS = [
  'Can you help me with {topic}?',
  'I need an update on {topic}.',
  'What is the best way to handle {topic}?',
  'Could you summarise where we are with {topic}?',
  'Remind me what we decided about {topic}.',
  'Is there anything blocking {topic}?',
]
const DETAILS = [
  '{name} mentioned it should be done by Friday.',
  'Last time it took about three days.',
  'I would rather keep the cost under two hundred euros.',
  'The previous attempt failed because of a missing permission.',
  'Please keep it short, I only have a few minutes.',
  'I already tried restarting it twice.',
  '{name} is also in the loop on this one.',
  'It matters because the deadline moved up a week.',
]
const ANSWERS = [
  'Sure, here is what I found about {topic}.',
  'Based on our earlier conversation, {topic} is mostly on track.',
  'The main open point on {topic} is the approval from {name}.',
  'I checked the notes and {topic} needs one more review.',
  'There are two options for {topic}, and the first is cheaper.',
  'I would start with the smallest change and measure the result.',
  'That should take about an hour if nothing else comes up.',
  'I have added a reminder for next Tuesday morning.',
  'Let me know if you want me to draft a message to {name}.',
  'The last update on {topic} was two days ago.',
]

function fill(template: string, random: () => number, topic: string): string {
  return template.replace('{topic}', topic).replace('{name}', pick(random, NAMES))
}

function sentences(random: () => number, pool: readonly string[], count: number, topic: string): string {
  return Array.from({ length: count }, () => fill(pick(random, pool), random, topic)).join(' ')
}

const DAY = 86_400_000
const BASE_TIME = Date.UTC(2026, 10, 1)

interface PlannedTurn {
  userId: string
  conversationId: string
  turn: ConversationTurn
}

/**
 * The turns in arrival order: every conversation's first turn, then every second turn, and so on,
 * so writes interleave across conversations the way concurrent chats arrive. Generated lazily
 * from one seeded stream, so the order and content are the same on every backend.
 */
function* plannedTurns(conversations: number, turns: number, users: number): Generator<PlannedTurn> {
  const random = seeded(42)
  const starts = Array.from({ length: conversations }, () => BASE_TIME - Math.floor(random() * 90 * DAY))
  const topics = Array.from({ length: conversations }, () => pick(random, TOPICS))
  for (let t = 0; t < turns; t++) {
    for (let c = 0; c < conversations; c++) {
      const topic = topics[c] as string
      const user = c % users
      const timestamp = (starts[c] as number) + t * 45_000 + Math.floor(random() * 30_000)
      const turn: ConversationTurn =
        t % 2 === 0
          ? {
              role: 'user',
              content: `${fill(pick(random, ASKS), random, topic)} ${sentences(random, DETAILS, 1 + Math.floor(random() * 2), topic)}`,
              timestamp,
              metadata: { channel: random() < 0.7 ? 'web' : 'mobile' },
            }
          : {
              role: 'assistant',
              content: sentences(random, ANSWERS, 2 + Math.floor(random() * 3), topic),
              timestamp,
              agentId: 'support-agent',
              model: 'gpt-4o-mini',
              usage: {
                prompt_tokens: 200 + Math.floor(random() * 2000),
                completion_tokens: 40 + Math.floor(random() * 200),
              },
            }
      yield { userId: userIdOf(user), conversationId: conversationIdOf(c), turn }
    }
  }
}

const userIdOf = (user: number) => `user-${String(user).padStart(5, '0')}`
const conversationIdOf = (c: number) => `conv-${String(c).padStart(6, '0')}`

const MEMORY_FACTS = [
  '{name} prefers {thing} in the morning.',
  '{name} is allergic to {thing}.',
  '{name} asked about {topic} last week.',
  '{name} wants weekly updates on {topic}.',
  'The deadline for {topic} is the end of the month.',
  '{name} owns {topic} and reports to {other}.',
  '{name} travels to {city} for {topic}.',
  '{name} uses {thing} for {topic}.',
]
const THINGS = [
  'green tea',
  'black coffee',
  'peanuts',
  'dark mode',
  'a standing desk',
  'Vim',
  'oat milk',
  'Python',
]
const CITIES = ['Lisbon', 'Osaka', 'Nairobi', 'Montreal', 'Berlin', 'Lima', 'Hanoi', 'Oslo']

function memoryText(random: () => number): string {
  return pick(random, MEMORY_FACTS)
    .replace('{name}', pick(random, NAMES))
    .replace('{other}', pick(random, NAMES))
    .replace('{thing}', pick(random, THINGS))
    .replace('{topic}', pick(random, TOPICS))
    .replace('{city}', pick(random, CITIES))
}

function memoryItems(count: number): Array<RememberOptions & { text: string }> {
  const random = seeded(7)
  return Array.from({ length: count }, (_, i) => ({
    text: memoryText(random),
    scope: `user:${i % 1000}`,
    type: 'fact',
    tags: [pick(random, ['work', 'personal', 'travel', 'health'])],
  }))
}

function recallQueries(count: number): string[] {
  const random = seeded(11)
  const forms = [
    'what does {name} drink in the morning',
    'is {name} allergic to anything',
    'who owns {topic}',
    'when is {topic} due',
    'where does {name} travel for work',
    'what does {name} use for {topic}',
  ]
  return Array.from({ length: count }, () =>
    pick(random, forms).replace('{name}', pick(random, NAMES)).replace('{topic}', pick(random, TOPICS)),
  )
}

interface Latency {
  p50: number
  p99: number
  mean: number
}

function latency(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? 0
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((s, x) => s + x, 0) / sorted.length }
}

async function timeEach(count: number, call: (i: number) => Promise<unknown>): Promise<Latency> {
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    await call(i)
    samples.push(performance.now() - start)
  }
  return latency(samples)
}

const ms = (x: number) => x.toFixed(2)
const rate = (n: number, millis: number) => Math.round((n * 1000) / millis).toLocaleString('en-US')
const count = (n: number) => n.toLocaleString('en-US')
const secs = (millis: number) => `${(millis / 1000).toFixed(1)} s`
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`

function folderSize(folder: string, prefix: string): number {
  return readdirSync(folder)
    .filter((name) => name.startsWith(prefix))
    .reduce((sum, name) => sum + statSync(join(folder, name)).size, 0)
}

interface Backend {
  name: 'sqlite' | 'postgres'
  /** A fresh adapter for ConversationMemory. */
  conversationStorage: () => StorageAdapter
  /** Opens Memory the way an application on this backend would. */
  openMemory: () => Promise<Memory>
  /** Calls allowed in flight at once during the conversation ingest once one at a time is too slow. */
  concurrency: number
  size: (what: 'conversations' | 'memory') => Promise<string>
  cleanup: () => Promise<void>
}

const ingestRows: string[] = []
const readRows: string[] = []
const importRows: string[] = []
const memoryIngestRows: string[] = []
const recallRows: string[] = []

async function conversationWorkload(backend: Backend): Promise<void> {
  const total = CONVERSATIONS * TURNS
  const storage = backend.conversationStorage()
  const memory = new ConversationMemory(storage, { closeAdapter: true })
  await memory.initialize()
  const turns = plannedTurns(CONVERSATIONS, TURNS, USERS)
  const store = async (): Promise<boolean> => {
    const next = turns.next()
    if (next.done) return false
    await memory.storeConversationTurn(next.value.userId, next.value.conversationId, next.value.turn)
    return true
  }
  const progress = (done: number, started: number) =>
    console.error(`  ${backend.name}: ${count(done)} turns, ${rate(done, performance.now() - started)}/s`)

  // One call at a time first: what a single agent loop sees.
  const sample = Math.min(SEQUENTIAL_SAMPLE, total)
  const started = performance.now()
  for (let i = 0; i < sample; i++) await store()
  const sampleMs = performance.now() - started
  const projected = (total * sampleMs) / sample / 1000
  ingestRows.push(
    `| ${backend.name} | first ${count(sample)} turns | 1 | ${secs(sampleMs)} | ${rate(sample, sampleMs)} |`,
  )
  console.error(
    `  ${backend.name}: ${rate(sample, sampleMs)} turns/s one at a time; all ${count(total)} would take ${projected.toFixed(0)} s`,
  )
  const inFlight = projected > MAX_SEQUENTIAL_SECONDS ? backend.concurrency : 1
  if (inFlight > 1) {
    console.error(
      `  ${backend.name}: over ${MAX_SEQUENTIAL_SECONDS} s, so the rest goes ${inFlight} calls at a time`,
    )
  }
  let done = sample
  const restStarted = performance.now()
  const worker = async () => {
    while (await store()) {
      done++
      if (done % 50_000 === 0) progress(done - sample, restStarted)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const restMs = performance.now() - restStarted
  const rest = done - sample
  if (rest > 0) {
    ingestRows.push(
      `| ${backend.name} | remaining ${count(rest)} turns | ${inFlight} | ${secs(restMs)} | ${rate(rest, restMs)} |`,
    )
  }
  const allMs = performance.now() - started
  ingestRows.push(
    `| ${backend.name} | **all ${count(done)} turns** | ${inFlight === 1 ? '1' : `1, then ${inFlight}`} | ${secs(allMs)} | **${rate(done, allMs)}** |`,
  )
  if (backend.name === 'postgres') await storage.exec('ANALYZE')

  // Reads after the ingest, from random users and conversations.
  const random = seeded(99)
  const conversation = () => {
    const c = Math.floor(random() * CONVERSATIONS)
    return [userIdOf(c % USERS), conversationIdOf(c)] as const
  }
  let wrong = 0
  const retrieve = async () => {
    const [user, id] = conversation()
    const got = await memory.retrieveConversationTurns(user, id, { limit: 50 })
    if (got.length !== Math.min(50, TURNS)) wrong++
  }
  const list = async () => {
    const got = await memory.listUserConversations(userIdOf(Math.floor(random() * USERS)), { limit: 20 })
    if (got.length !== Math.min(20, Math.ceil(CONVERSATIONS / USERS))) wrong++
  }
  for (let i = 0; i < 100; i++) await retrieve()
  for (let i = 0; i < 100; i++) await list()
  const turnsLatency = await timeEach(CALLS, retrieve)
  const listLatency = await timeEach(CALLS, list)
  if (wrong > 0) console.error(`  ${backend.name}: ${wrong} reads returned an unexpected number of rows`)
  readRows.push(
    `| ${backend.name} | retrieveConversationTurns(user, conversation, { limit: 50 }) | ${count(CALLS)} | ${ms(turnsLatency.p50)} | ${ms(turnsLatency.p99)} | ${ms(turnsLatency.mean)} |`,
    `| ${backend.name} | listUserConversations(user, { limit: 20 }) | ${count(CALLS)} | ${ms(listLatency.p50)} | ${ms(listLatency.p99)} | ${ms(listLatency.mean)} |`,
  )

  // The bulk path for comparison, on other users so the reads above are unaffected.
  if (IMPORT_TURNS > 0) {
    const batchTurns = 1000
    const imported: ImportedTurn[] = []
    for (const planned of plannedTurns(Math.ceil(IMPORT_TURNS / TURNS), TURNS, USERS)) {
      if (imported.length === IMPORT_TURNS) break
      imported.push({
        ...planned.turn,
        timestamp: planned.turn.timestamp ?? BASE_TIME,
        userId: `import-${planned.userId}`,
        conversationId: planned.conversationId,
        storageId: `t-${imported.length}`,
      })
    }
    const importStarted = performance.now()
    for (let i = 0; i < imported.length; i += batchTurns) {
      await memory.importBatch({ turns: imported.slice(i, i + batchTurns) })
    }
    const importMs = performance.now() - importStarted
    importRows.push(
      `| ${backend.name} | importBatch, ${count(batchTurns)} turns per call | ${count(imported.length)} | ${secs(importMs)} | ${rate(imported.length, importMs)} |`,
    )
  }
  console.error(`  ${backend.name}: conversations on disk ${await backend.size('conversations')}`)
  await memory.close()
}

async function memoryWorkload(backend: Backend): Promise<void> {
  const memory = await backend.openMemory()
  try {
    const items = memoryItems(MEMORIES)
    const one = performance.now()
    for (const item of items.slice(0, REMEMBER_SAMPLE)) await memory.remember(item.text, item)
    const oneMs = performance.now() - one
    memoryIngestRows.push(
      `| ${backend.name} | remember, one at a time | ${count(REMEMBER_SAMPLE)} | ${secs(oneMs)} | ${rate(REMEMBER_SAMPLE, oneMs)} |`,
    )
    const many = performance.now()
    const rest = items.slice(REMEMBER_SAMPLE)
    const chunk = 10_000
    for (let i = 0; i < rest.length; i += chunk) {
      await memory.rememberMany(rest.slice(i, i + chunk))
      console.error(
        `  ${backend.name}: ${count(REMEMBER_SAMPLE + Math.min(i + chunk, rest.length))} memories, ${rate(Math.min(i + chunk, rest.length), performance.now() - many)}/s`,
      )
    }
    const manyMs = performance.now() - many
    if (rest.length > 0) {
      memoryIngestRows.push(
        `| ${backend.name} | rememberMany (batches of 256), ${count(chunk)} items per call | ${count(rest.length)} | ${secs(manyMs)} | ${rate(rest.length, manyMs)} |`,
      )
    }
    const stored = await memory.count()
    if (backend.name === 'postgres') await memory.storage.exec('ANALYZE')

    const queries = recallQueries(QUERIES)
    // The first vector query past the threshold builds the SQLite ANN index (a no-op on Postgres).
    const first = performance.now()
    await memory.recall(queries[0] as string, { topK: TOP_K, mode: 'vector' })
    const firstMs = performance.now() - first
    memoryIngestRows.push(
      `| ${backend.name} | first recall after the ingest${backend.name === 'sqlite' ? ' (builds the HNSW index)' : ''} | ${count(stored)} | ${secs(firstMs)} | - |`,
    )
    for (const mode of ['hybrid', 'text', 'vector'] as const) {
      for (let i = 0; i < 20; i++) await memory.recall(queries[i] as string, { topK: TOP_K, mode })
      let short = 0
      const timing = await timeEach(QUERIES, async (i) => {
        const hits = await memory.recall(queries[i] as string, { topK: TOP_K, mode })
        if (hits.length < TOP_K) short++
      })
      recallRows.push(
        `| ${backend.name} | ${mode} | ${count(stored)} | ${count(QUERIES)} | ${ms(timing.p50)} | ${ms(timing.p99)} | ${ms(timing.mean)} |${short > 0 ? ` ${short} queries returned fewer than ${TOP_K} |` : ''}`,
      )
    }
    console.error(`  ${backend.name}: memory on disk ${await backend.size('memory')}`)
  } finally {
    await memory.close()
  }
}

function sqliteBackend(folder: string): Backend {
  return {
    name: 'sqlite',
    conversationStorage: () => createSqliteNativeAdapter({ filename: join(folder, 'conversations.db') }),
    // Memory.open's own default for a path: sqlite-native with WAL, the SQL vector store, the HNSW sidecar.
    openMemory: () =>
      Memory.open({
        path: join(folder, 'memory.db'),
        embed: createLocalEmbedder({ dimensions: DIMENSIONS }),
      }),
    concurrency: 1,
    size: async (what) => mb(folderSize(folder, what === 'conversations' ? 'conversations.db' : 'memory.db')),
    cleanup: async () => rmSync(folder, { recursive: true, force: true }),
  }
}

function postgresBackend(schema: string): Backend {
  const open = () => createPostgresAdapter({ connectionString: URL, searchPath: [schema, 'public'] })
  const owned: StorageAdapter[] = []
  return {
    name: 'postgres',
    conversationStorage: open,
    // Memory on a caller's adapter picks PgVectorStore in the adapter's current schema.
    openMemory: async () => {
      const storage = open()
      owned.push(storage)
      return Memory.open({ storage, embed: createLocalEmbedder({ dimensions: DIMENSIONS }) })
    },
    concurrency: PG_CONCURRENCY,
    size: async (what) => {
      const admin = open()
      try {
        const tables =
          what === 'conversations'
            ? "tablename LIKE 'engram_conversation%'"
            : "(tablename LIKE 'engram_v%' OR tablename LIKE 'engram_traces%')"
        const row = await admin.get<{ bytes: string }>(
          `SELECT COALESCE(SUM(pg_total_relation_size(quote_ident(schemaname) || '.' || quote_ident(tablename))), 0) AS bytes
           FROM pg_tables WHERE schemaname = ? AND ${tables}`,
          [schema],
        )
        return mb(Number(row?.bytes ?? 0))
      } finally {
        await admin.close()
      }
    },
    cleanup: async () => {
      for (const storage of owned) await storage.close()
      const admin = createPostgresAdapter({ connectionString: URL, max: 1 })
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await admin.close()
    },
  }
}

async function machine(): Promise<string[]> {
  const lines = [
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`,
  ]
  const sqlite = createSqliteNativeAdapter({ filename: ':memory:' })
  lines.push(
    `SQLite ${(await sqlite.get<{ v: string }>('SELECT sqlite_version() AS v'))?.v} (better-sqlite3)`,
  )
  await sqlite.close()
  if (BACKENDS.includes('postgres')) {
    const pg = createPostgresAdapter({ connectionString: URL, max: 1 })
    const row = await pg.get<{ v: string; vector: string | null; sync: string }>(
      `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sync,
         (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector`,
    )
    lines.push(
      `PostgreSQL ${row?.v} on the same machine, pgvector ${row?.vector}, synchronous_commit ${row?.sync}, default server settings`,
    )
    await pg.close()
  }
  return lines
}

function table(title: string, header: string, rows: string[]): void {
  console.log(`\n### ${title}\n`)
  console.log(header)
  console.log(
    `|${header
      .split('|')
      .slice(1, -1)
      .map(() => '---')
      .join('|')}|`,
  )
  for (const row of rows) console.log(row)
}

const runStarted = performance.now()
const facts = await machine()
console.log(`# engram memory workload\n`)
for (const line of facts) console.log(`- ${line}`)
console.log(
  `- sizes: ${count(CONVERSATIONS)} conversations × ${TURNS} turns (${count(CONVERSATIONS * TURNS)} turns, ${count(USERS)} users); ${count(MEMORIES)} memories, local embedder ${DIMENSIONS} dims; ${count(CALLS)} read calls and ${count(QUERIES)} recall queries per case`,
)

for (const name of BACKENDS) {
  const schema = `engram_bench_memory_${process.pid}`
  let backend: Backend
  if (name === 'sqlite') {
    backend = sqliteBackend(mkdtempSync(join(tmpdir(), 'engram-memory-workload-')))
  } else {
    const admin = createPostgresAdapter({ connectionString: URL, max: 1 })
    await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`)
    await admin.close()
    backend = postgresBackend(schema)
  }
  try {
    const phase = performance.now()
    console.error(`${name}: conversations`)
    await conversationWorkload(backend)
    console.error(`${name}: conversations done in ${secs(performance.now() - phase)}; memory`)
    const memoryPhase = performance.now()
    await memoryWorkload(backend)
    console.error(`${name}: memory done in ${secs(performance.now() - memoryPhase)}`)
  } finally {
    await backend.cleanup()
  }
}

table(
  '1. Conversation ingest: storeConversationTurn',
  '| backend | turns | calls in flight | time | turns/s |',
  ingestRows,
)
table(
  '2. Reads after the ingest (one call at a time, ms)',
  '| backend | call | calls | p50 | p99 | mean |',
  readRows,
)
if (importRows.length > 0) {
  table('1b. For comparison: the bulk import path', '| backend | path | turns | time | turns/s |', importRows)
}
table(
  '3a. Memory ingest (local embedder, 384 dims)',
  '| backend | path | memories | time | memories/s |',
  memoryIngestRows,
)
table(
  `3b. recall(query, { topK: ${TOP_K} }) (one call at a time, ms)`,
  '| backend | mode | memories | queries | p50 | p99 | mean |',
  recallRows,
)
console.log(`\ntotal run time: ${secs(performance.now() - runStarted)}`)
