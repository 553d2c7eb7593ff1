import type { Row, StorageAdapter } from '@engram/core'
import { ConversationMemory } from '@engram/memory'

/** Text that exercises every kind of character a backup must carry exactly. */
const TEXTS = ['plain', 'it\'s "quoted"', 'naïve café 日本語 🎉', 'line\nbreak\ttab', 'back\\slash', '']

/**
 * Writes a table of awkward values (blobs, bigints beyond 2^53, NULLs, every kind of text) and
 * some conversations through ConversationMemory, so restored data can be compared exactly.
 */
export async function seedDatabase(db: StorageAdapter, notes = 120): Promise<void> {
  const big = db.dialect === 'postgres' ? 'BIGINT' : 'INTEGER'
  const blob = db.dialect === 'postgres' ? 'BYTEA' : 'BLOB'
  const real = db.dialect === 'postgres' ? 'DOUBLE PRECISION' : 'REAL'
  await db.exec(
    `CREATE TABLE notes (id ${big} PRIMARY KEY, body TEXT NOT NULL, data ${blob}, score ${real}, big ${big})`,
  )
  await db.transaction(async (tx) => {
    for (let i = 1; i <= notes; i++) {
      await tx.run('INSERT INTO notes (id, body, data, score, big) VALUES (?, ?, ?, ?, ?)', [
        i,
        `${TEXTS[i % TEXTS.length]} #${i}`,
        i % 7 === 0 ? null : Uint8Array.from({ length: (i % 50) + 1 }, (_, k) => (i * 31 + k) % 256),
        i % 5 === 0 ? null : i / 8,
        i % 3 === 0 ? 2n ** 60n + BigInt(i) : i,
      ])
    }
  })
  const memory = new ConversationMemory(db)
  for (let c = 0; c < 4; c++) {
    for (let t = 0; t < 5; t++) {
      await memory.storeConversationTurn(`user-${c % 2}`, `chat-${c}`, {
        role: t % 2 === 0 ? 'user' : 'assistant',
        content: `${TEXTS[t % TEXTS.length]} (turn ${t} of chat ${c})`,
        timestamp: Date.UTC(2026, 10, 1, 12, c, t),
        metadata: { turn: t },
      })
    }
  }
  await memory.close()
}

/** Every note, ordered by id. */
export function readNotes(db: StorageAdapter): Promise<Row[]> {
  return db.all('SELECT id, body, data, score, big FROM notes ORDER BY id')
}

/** Every conversation's turns as ConversationMemory reads them back (ids, roles, content, times). */
export async function readConversations(db: StorageAdapter): Promise<unknown[]> {
  const memory = new ConversationMemory(db)
  const out: unknown[] = []
  for (let c = 0; c < 4; c++) {
    const turns = await memory.retrieveConversationTurns(`user-${c % 2}`, `chat-${c}`)
    out.push(
      turns.map((t) => ({
        id: t.storageId,
        role: t.role,
        content: t.content,
        at: t.timestamp,
        meta: t.metadata,
      })),
    )
  }
  await memory.close()
  return out
}

/** Notes and conversations together, for comparing a restored database with its source. */
export async function readEverything(
  db: StorageAdapter,
): Promise<{ notes: Row[]; conversations: unknown[] }> {
  return { notes: await readNotes(db), conversations: await readConversations(db) }
}
