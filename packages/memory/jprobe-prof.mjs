import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConversationMemory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'

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
const which = process.argv[2]
for (let i = 0; i < 200000; i++) {
  if (which === 'read') await memory.retrieveConversationTurns(`u${i % 5}`, `c${i % 10}`, { limit: 50 })
  else await memory.listUserConversations(`u${i % 5}`, { limit: 20 })
}
await memory.close()
