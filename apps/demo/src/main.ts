import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Memory } from '@engram/memory'
import type { SqliteVectorStore } from '@engram/sqlite-vector'
import { formatMs, ProgressBar } from './progress-bar.js'

/**
 * The engram demo, on the embedded default: a SQLite file with exact vector search and full
 * text, switching to the HNSW sidecar past 1,000 memories. It ingests a small bundled corpus,
 * stores a conversation, recalls with hybrid search, and shows the ANN tier switching on.
 */
const here = dirname(fileURLToPath(import.meta.url))
const corpusDir = join(here, '..', 'corpus')
const dataDir = process.env.ENGRAM_DEMO_DIR ?? join(process.cwd(), '.engram', 'demo')
const started = performance.now()

const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now()
  const value = await work()
  return [value, performance.now() - t0]
}
const heading = (text: string) => console.log(`\n── ${text} ${'─'.repeat(Math.max(0, 70 - text.length))}`)

rmSync(dataDir, { recursive: true, force: true })
const path = join(dataDir, 'memory.db')
const memory = await Memory.open({ path })
// The embedded default is @engram/sqlite-vector's store, which also reports its ANN tier.
const vectors = memory.vectors as SqliteVectorStore
console.log(`engram demo: memory at ${path}`)
console.log(
  `  storage ${memory.storage.kind} (${memory.storage.dialect}), vectors ${vectors.kind}, ${memory.dimensions}-dimension embeddings`,
)
console.log(
  '  embedder: the bundled local embedder, lexical rather than semantic (shared words, not meaning)',
)

heading('1. Ingest the bundled corpus')
const files = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.md'))
  .sort()
const ingestBar = new ProgressBar('documents')
let chunkCount = 0
for (const [i, file] of files.entries()) {
  const text = readFileSync(join(corpusDir, file), 'utf8')
  const title = text.split('\n')[0]?.replace(/^#\s*/, '') ?? file
  const { chunks } = await memory.ingest(
    { id: file.replace(/\.md$/, ''), text, title },
    { chunkSize: 400, overlap: 80, tags: ['corpus'] },
  )
  chunkCount += chunks.length
  ingestBar.update(i + 1, files.length)
}
console.log(`  ${files.length} documents → ${chunkCount} chunks, each linked to its document`)

heading('2. Store a conversation')
const userId = 'ada'
const conversationId = 'kitchen-chat'
const turns: Array<['user' | 'assistant', string]> = [
  ['user', 'My sourdough starter has grey liquid on top. Did I kill it?'],
  ['assistant', 'No, that liquid is hooch: the starter is hungry. Pour it off and feed it.'],
  ['user', 'Good. Also, my filter coffee tastes sour lately.'],
  ['assistant', 'Sour means under-extracted: try a finer grind or a longer brew.'],
]
for (const [role, content] of turns) {
  await memory.conversations.storeConversationTurn(userId, conversationId, {
    role,
    content,
    agentId: 'chef-bot',
  })
}
await memory.remember('Ada bakes sourdough and keeps her starter on the counter', {
  userId,
  conversationId,
  scope: `user:${userId}`,
  type: 'fact',
})
const history = await memory.conversations.retrieveConversationTurns(userId, conversationId, { limit: 10 })
for (const turn of history) console.log(`  ${turn.role.padEnd(9)} ${turn.content}`)
console.log(`  ${history.length} turns stored; one fact remembered from the conversation, linked to it`)

heading('3. Recall with hybrid search (vectors + full text, fused with RRF)')
const questions = [
  'why does my coffee taste sour',
  'how do bees choose a new home',
  'why are there two tides every day',
  'what does Ada bake',
]
for (const question of questions) {
  const [hits, ms] = await timed(() => memory.recall(question, { topK: 3 }))
  console.log(`  “${question}”  (${formatMs(ms)})`)
  for (const hit of hits) {
    const source = hit.trace.documentId ?? hit.trace.scope
    console.log(
      `    ${hit.score.toFixed(4)}  [${source}] ${hit.trace.text.replace(/\s+/g, ' ').slice(0, 72)}…`,
    )
  }
}
console.log('  the same question in each mode:')
for (const mode of ['vector', 'text', 'hybrid'] as const) {
  const [hits, ms] = await timed(() =>
    memory.recall('capital compromise between Sydney and Melbourne', { topK: 1, mode }),
  )
  console.log(
    `    ${mode.padEnd(6)} ${hits[0]?.score.toFixed(4)}  [${hits[0]?.trace.documentId}]  (${formatMs(ms)})`,
  )
}

heading('4. The ANN tier switches on past 1,000 memories')
const before = await vectors.annStatus(memory.collection)
const [, exactMs] = await timed(() =>
  memory.recall('tide range in the Bay of Fundy', { topK: 5, mode: 'vector' }),
)
console.log(
  `  ${await memory.count()} memories: exact search, index open: ${before.open} (query ${formatMs(exactMs)})`,
)
const topics = [
  'meeting',
  'invoice',
  'recipe',
  'workout',
  'flight',
  'birthday',
  'deploy',
  'garden',
  'book',
  'call',
]
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
const notes = Array.from({ length: 1500 }, (_, i) => ({
  text: `Note ${i}: the ${topics[i % topics.length]} on ${days[i % days.length]} moved to slot ${(i * 37) % 97}`,
  scope: `user:${userId}`,
  type: 'note',
}))
const noteBar = new ProgressBar('notes')
await memory.rememberMany(notes, { batchSize: 250, onProgress: (done, total) => noteBar.update(done, total) })
const [, buildMs] = await timed(() => memory.recall('the deploy on Friday', { topK: 5, mode: 'vector' }))
const after = await vectors.annStatus(memory.collection)
console.log(
  `  ${await memory.count()} memories: index open: ${after.open} (${after.source}), ${after.size} vectors; first query built it in ${formatMs(buildMs)}`,
)
const samples: number[] = []
for (let i = 0; i < 50; i++) {
  const [, ms] = await timed(() =>
    memory.recall(`the ${topics[i % topics.length]} on ${days[i % days.length]}`, {
      topK: 5,
      mode: 'vector',
    }),
  )
  samples.push(ms)
}
samples.sort((a, b) => a - b)
console.log(
  `  ANN vector recall over 50 queries: p50 ${formatMs(samples[25] ?? 0)}, p99 ${formatMs(samples[49] ?? 0)}`,
)
const [[hit], hybridMs] = await timed(() => memory.recall('note 1236 deploy friday', { topK: 1 }))
console.log(`  hybrid after the switch: ${hit?.trace.text}  (${formatMs(hybridMs ?? 0)})`)

heading('5. Knowledge graph and agent state')
await memory.graph.addEntity({ id: 'canberra', name: 'Canberra', type: 'city' })
await memory.graph.addEntity({ id: 'australia', name: 'Australia', type: 'country' })
await memory.graph.addEntity({
  id: 'griffins',
  name: 'Walter Burley and Marion Mahony Griffin',
  type: 'people',
})
await memory.graph.addRelation('canberra', 'australia', 'capital_of')
await memory.graph.addRelation('griffins', 'canberra', 'designed')
const reached = await memory.graph.neighbors('griffins', { depth: 2 })
console.log(
  `  from the Griffins: ${reached.map((n) => `${n.entity.name} (depth ${n.depth}, via ${n.via})`).join(', ')}`,
)
await memory.state.save('chef-bot', { lastTopic: 'coffee', turns: history.length })
console.log(`  chef-bot state: ${JSON.stringify(await memory.state.load('chef-bot'))}`)

heading('6. Deleting the conversation deletes the memories made from it')
await memory.conversations.deleteConversation(userId, conversationId)
const gone = await memory.recall('what does Ada bake', { topK: 3, scope: `user:${userId}`, type: 'fact' })
console.log(`  recall of Ada's fact after deleting the conversation: ${gone.length} results`)

await memory.close()
console.log(
  `\nDone in ${formatMs(performance.now() - started)}. The database and its index are in ${dataDir}`,
)
