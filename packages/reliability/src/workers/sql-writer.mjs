// kill -9 worker for the SQL drivers: writes batches (a header row and its items, in one
// transaction) and deletes some (leaving a tombstone in the same transaction), acknowledging
// each commit, until the parent kills it.
// argv: driver (sqlite-native | sqljs), file, mode (wal-normal | wal-full | rollback), seed
import { createHash } from 'node:crypto'
import { ack, runWorker, seeded } from './worker-support.mjs'

const [driver, file, mode, seed] = process.argv.slice(2)
const random = seeded(Number(seed))

const MODES = {
  'wal-normal': { wal: true, synchronous: 'normal' },
  'wal-full': { wal: true, synchronous: 'full' },
  rollback: { wal: false, synchronous: 'full' },
}

async function open() {
  if (driver === 'sqlite-native') {
    const { createSqliteNativeAdapter } = await import('@engram/sqlite-native')
    return createSqliteNativeAdapter({ filename: file, ...MODES[mode] })
  }
  const { createSqlJsAdapter } = await import('@engram/sqljs')
  return createSqlJsAdapter({ filename: file })
}

/** Bytes from the seeded generator, so the payload differs per item but needs no randomBytes. */
function payload(size) {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256)
  return bytes
}

const digest = (bytes) => createHash('sha256').update(bytes).digest('hex')

await runWorker(async () => {
  const db = await open()
  await db.exec(`CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, items INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS items (batch INTEGER NOT NULL, idx INTEGER NOT NULL, payload BLOB NOT NULL,
      digest TEXT NOT NULL, PRIMARY KEY (batch, idx));
    CREATE TABLE IF NOT EXISTS deleted (id INTEGER PRIMARY KEY)`)
  const last = await db.get(
    'SELECT MAX(COALESCE((SELECT MAX(id) FROM batches), 0), COALESCE((SELECT MAX(id) FROM deleted), 0)) AS id',
  )
  let next = Number(last.id) + 1
  // sql.js rewrites the whole image per commit, so its batches stay small to keep rounds short.
  const maxBytes = driver === 'sqljs' ? 512 : 16_384
  for (;;) {
    if (next % 5 === 0) {
      const victim = await db.get('SELECT id FROM batches ORDER BY id LIMIT 1 OFFSET ?', [
        Math.floor(random() * 8),
      ])
      if (victim) {
        await db.transaction(async (tx) => {
          await tx.run('DELETE FROM items WHERE batch = ?', [victim.id])
          await tx.run('DELETE FROM batches WHERE id = ?', [victim.id])
          // The tombstone commits with the delete, so the parent can tell a delete it was never told about.
          await tx.run('INSERT INTO deleted (id) VALUES (?)', [victim.id])
        })
        ack({ deleted: Number(victim.id) })
      }
    }
    const id = next++
    const count = 1 + Math.floor(random() * 6)
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO batches (id, items) VALUES (?, ?)', [id, count])
      for (let idx = 0; idx < count; idx++) {
        const bytes = payload(1 + Math.floor(random() * maxBytes))
        await tx.run('INSERT INTO items (batch, idx, payload, digest) VALUES (?, ?, ?, ?)', [
          id,
          idx,
          bytes,
          digest(bytes),
        ])
      }
    })
    ack({ written: id })
  }
})
