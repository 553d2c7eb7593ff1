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
await memory.close()
const db = new Database(join(dir, 'a.db'))
const COLS =
  'storage_id, user_id, conversation_id, role, content, created_at, agent_id, model, prompt_tokens, completion_tokens, total_tokens, tool_calls, tool_call_id, metadata, summary'
const CCOLS = 'user_id, conversation_id, agent_id, created_at, last_activity, title, summary, persona'
const cases = {
  'read LIMIT ? OFFSET ?': [
    `SELECT ${COLS} FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at ASC, seq ASC LIMIT ? OFFSET ?`,
    (i) => [`u${i % 5}`, `c${i % 10}`, 50, 0],
  ],
  'read LIMIT 50 OFFSET 0': [
    `SELECT ${COLS} FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at ASC, seq ASC LIMIT 50 OFFSET 0`,
    (i) => [`u${i % 5}`, `c${i % 10}`],
  ],
  'read LIMIT 50': [
    `SELECT ${COLS} FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at ASC, seq ASC LIMIT 50`,
    (i) => [`u${i % 5}`, `c${i % 10}`],
  ],
  'read LIMIT ?+0 OFFSET ?+0': [
    `SELECT ${COLS} FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at ASC, seq ASC LIMIT ?+0 OFFSET ?+0`,
    (i) => [`u${i % 5}`, `c${i % 10}`, 50, 0],
  ],
  'read * raw-like': [
    `SELECT * FROM engram_conversation_turns WHERE user_id = ? AND conversation_id = ? ORDER BY created_at, seq LIMIT 50`,
    (i) => [`u${i % 5}`, `c${i % 10}`],
  ],
  'list tiebreak LIMIT ? OFFSET ?': [
    `SELECT ${CCOLS} FROM engram_conversations WHERE user_id = ? ORDER BY last_activity DESC, conversation_id ASC LIMIT ? OFFSET ?`,
    (i) => [`u${i % 5}`, 20, 0],
  ],
  'list tiebreak LIMIT 20': [
    `SELECT ${CCOLS} FROM engram_conversations WHERE user_id = ? ORDER BY last_activity DESC, conversation_id ASC LIMIT 20`,
    (i) => [`u${i % 5}`],
  ],
  'list no tiebreak LIMIT 20': [
    `SELECT ${CCOLS} FROM engram_conversations WHERE user_id = ? ORDER BY last_activity DESC LIMIT 20`,
    (i) => [`u${i % 5}`],
  ],
  'list no tiebreak LIMIT ?': [
    `SELECT ${CCOLS} FROM engram_conversations WHERE user_id = ? ORDER BY last_activity DESC LIMIT ?`,
    (i) => [`u${i % 5}`, 20],
  ],
}
const N = 50000
for (let r = 0; r < 2; r++)
  for (const [name, [sql, args]] of Object.entries(cases)) {
    const s = db.prepare(sql)
    for (let i = 0; i < 5000; i++) s.all(...args(i))
    const t = process.hrtime.bigint()
    for (let i = 0; i < N; i++) s.all(...args(i))
    console.log(name.padEnd(32), (Number(process.hrtime.bigint() - t) / N / 1000).toFixed(2), 'µs')
  }
for (const [name, [sql]] of Object.entries(cases))
  console.log(
    name,
    JSON.stringify(
      db
        .prepare('EXPLAIN QUERY PLAN ' + sql)
        .all(...Array((sql.match(/\?/g) || []).length).fill(1))
        .map((r) => r.detail),
    ),
  )
db.close()
