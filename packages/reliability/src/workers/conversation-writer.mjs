// kill -9 worker for ConversationMemory on a SQLite file: stores turns in lasting conversations
// and in short-lived ones that it deletes, acknowledging each call that returned, until killed.
// argv: file, seed, round
import { ConversationMemory } from '@engram/memory'
import { ack, runWorker, seeded } from './worker-support.mjs'

const [file, seed, round] = process.argv.slice(2)
const random = seeded(Number(seed))
const ROLES = ['user', 'assistant', 'system', 'tool']

await runWorker(async () => {
  const memory = await ConversationMemory.open(file)
  for (let n = 0; ; n++) {
    const user = `user-${Math.floor(random() * 3)}`
    if (n % 7 === 6) {
      // A short-lived conversation: a few turns, then deleted; its id is never used again.
      const conversation = `gone-${round}-${n}`
      for (let k = 0; k < 3; k++) {
        await memory.storeConversationTurn(user, conversation, { role: 'user', content: `short ${k}` })
      }
      ack({ created: [user, conversation] })
      await memory.deleteConversation(user, conversation)
      ack({ deletedConversation: [user, conversation] })
      continue
    }
    const conversation = `chat-${Math.floor(random() * 4)}`
    const content = `turn ${round}.${n} ${'x'.repeat(Math.floor(random() * 2000))}`
    const storageId = await memory.storeConversationTurn(user, conversation, {
      role: ROLES[n % ROLES.length],
      content,
      metadata: { n, round: Number(round) },
    })
    ack({ stored: [user, conversation, storageId, content.length] })
  }
})
