import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConversationMemory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import Database from '../../apps/bench/node_modules/better-sqlite3/lib/index.js'

const dir = mkdtempSync(join(tmpdir(), 'jprobe-'))
const memory = new ConversationMemory(createSqliteNativeAdapter({ filename: join(dir, 'a.db') }), {
  closeAdapter: true,
})
await memory.initialize()
for (let c = 0; c < 10; c++)
  for (let t = 0; t < 2; t++)
    await memory.storeConversationTurn(`u${c % 5}`, `c${c}`, {
      role: 'user',
      content: 'hello there',
      timestamp: 1000 + t,
    })
const raw = new Database(join(dir, 'a.db'))
const first = raw.prepare(
  'SELECT * FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at, seq LIMIT 50',
)
const latest = raw.prepare(
  'SELECT * FROM engram_conversations WHERE user_id = ? ORDER BY last_activity DESC LIMIT 20',
)
async function time(label, n, fn) {
  for (let i = 0; i < 2000; i++) await fn(i)
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn(i)
  console.log(label.padEnd(40), (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1), 'µs')
}
const N = Number(process.argv[2] ?? 20000)
for (let r = 0; r < 2; r++) {
  await time('raw read', N, (i) => first.all(`u${i % 5}`, `c${i % 10}`))
  await time('engram read', N, (i) =>
    memory.retrieveConversationTurns(`u${i % 5}`, `c${i % 10}`, { limit: 50 }),
  )
  await time('raw list', N, (i) => latest.all(`u${i % 5}`))
  await time('engram list', N, (i) => memory.listUserConversations(`u${i % 5}`, { limit: 20 }))
}
raw.close()
await memory.close()
