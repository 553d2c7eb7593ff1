import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createDatabase, StorageError } from '@engram/core'

/**
 * The engram demo: opens the embedded SQLite default through createDatabase(), writes chat
 * turns in a transaction, reads them back, and shows the typed errors and value rules.
 */
const folder = process.env.ENGRAM_DEMO_DIR ?? join(process.cwd(), '.engram')
const file = join(folder, 'demo.db')
rmSync(folder, { recursive: true, force: true })

const started = performance.now()
const db = await createDatabase(file)
console.log(`Opened ${file} with the ${db.kind} driver (${db.dialect}, ${db.capabilities.persistence})`)

await db.exec(`
  CREATE TABLE turns (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content TEXT NOT NULL,
    tokens INTEGER,
    at TEXT NOT NULL
  );
  CREATE INDEX turns_by_conversation ON turns (conversation, id);
`)

const turns: Array<[string, string, number]> = [
  ['user', 'What is the capital of Australia?', 9],
  ['assistant', 'Canberra. Sydney is larger, but Canberra was built as the capital.', 17],
  ['user', 'Why not Sydney or Melbourne?', 7],
  ['assistant', 'It was a compromise between the two rival cities, chosen in 1908.', 16],
]
const written = await db.transaction(async (tx) => {
  for (const [role, content, tokens] of turns) {
    await tx.run('INSERT INTO turns (conversation, role, content, tokens, at) VALUES (?, ?, ?, ?, ?)', [
      'demo-1',
      role,
      content,
      tokens,
      new Date(),
    ])
  }
  return turns.length
})
console.log(`Stored ${written} turns in one transaction`)

const rows = await db.all<{ role: string; content: string; tokens: number }>(
  'SELECT role, content, tokens FROM turns WHERE conversation = :conversation ORDER BY id',
  { conversation: 'demo-1' },
)
for (const row of rows) console.log(`  ${row.role.padEnd(9)} ${row.content}  (${row.tokens} tokens)`)

const totals = await db.get<{ turns: number; tokens: number }>(
  'SELECT COUNT(*) AS turns, SUM(tokens) AS tokens FROM turns',
)
console.log(`Totals: ${totals?.turns} turns, ${totals?.tokens} tokens`)

// A failed transaction rolls back and its error keeps a portable code.
try {
  await db.transaction(async (tx) => {
    await tx.run('INSERT INTO turns (conversation, role, content, at) VALUES (?, ?, ?, ?)', [
      'demo-1',
      'user',
      'kept?',
      'now',
    ])
    await tx.run('INSERT INTO turns (conversation, role, content, at) VALUES (?, ?, ?, ?)', [
      'demo-1',
      'robot',
      'no',
      'now',
    ])
  })
} catch (error) {
  if (!(error instanceof StorageError)) throw error
  const after = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM turns')
  console.log(
    `A bad role was refused with ${error.code}; the transaction rolled back (${after?.n} turns remain)`,
  )
}

const big = 2n ** 60n
await db.run('INSERT INTO turns (id, conversation, role, content, at) VALUES (?, ?, ?, ?, ?)', [
  big,
  'demo-2',
  'system',
  'hi',
  'now',
])
const exact = await db.get<{ id: bigint }>('SELECT id FROM turns WHERE conversation = ?', ['demo-2'])
console.log(`A 64-bit id comes back exactly: ${exact?.id} (${typeof exact?.id})`)

let streamed = 0
for await (const _row of db.iterate('SELECT id FROM turns')) streamed++
console.log(`Streamed ${streamed} rows with iterate()`)

await db.close()
console.log(`Done in ${(performance.now() - started).toFixed(1)} ms. The database file is ${file}`)
