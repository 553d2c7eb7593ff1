import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import Database from 'better-sqlite3'
import { compare, printTable } from './measure.js'

/**
 * The adapter's overhead over raw better-sqlite3 prepared statements, measured in one run:
 * a point SELECT by primary key (beside the raw row handed back as a resolved promise, the floor
 * for any async API), and 1,000 INSERTs in one transaction.
 */
export async function sqliteOverhead(options: { smoke?: boolean } = {}): Promise<void> {
  // Smoke: one short round per case, just enough to prove every case still runs.
  const quick = options.smoke ? { rounds: 1, roundMs: 20 } : undefined
  const slow = options.smoke ? quick : { rounds: 9, roundMs: 300 }
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-sqlite-'))
  const schema = 'CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL)'
  const rows = 10_000

  const raw = new Database(join(folder, 'raw.db'))
  // The same settings engram's adapter uses by default, so both sides do the same work per commit.
  raw.pragma('journal_mode = WAL')
  raw.pragma('synchronous = NORMAL')
  raw.pragma('foreign_keys = ON')
  raw.exec(schema)
  const engram = createSqliteNativeAdapter({ filename: join(folder, 'engram.db') })
  await engram.exec(schema)

  const seed = raw.prepare('INSERT INTO kv (id, name, score) VALUES (?, ?, ?)')
  raw.transaction(() => {
    for (let i = 1; i <= rows; i++) seed.run(i, `name-${i}`, i / 7)
  })()
  await engram.transaction(async (tx) => {
    for (let i = 1; i <= rows; i++)
      await tx.run('INSERT INTO kv (id, name, score) VALUES (?, ?, ?)', [i, `name-${i}`, i / 7])
  })

  let next = 0
  // A scattered but repeatable sequence of keys, so neither side reads the same page every time.
  const key = () => {
    next = (next * 7919 + 1) % rows
    return next + 1
  }
  const rawSelect = raw.prepare('SELECT id, name, score FROM kv WHERE id = ?')
  const reads = await compare(
    [
      { name: 'better-sqlite3 prepared get()', run: () => rawSelect.get(key()) },
      {
        name: 'better-sqlite3 get() handed back as a resolved promise (the floor for any async API)',
        run: () => Promise.resolve(rawSelect.get(key())),
      },
      {
        name: 'engram sqlite-native get()',
        run: () => engram.get('SELECT id, name, score FROM kv WHERE id = ?', [key()]),
      },
    ],
    quick,
  )
  printTable('Point SELECT by primary key (10,000-row table)', reads)

  const batch = 1000
  const rawInsert = raw.prepare('INSERT INTO kv (name, score) VALUES (?, ?)')
  const rawBatch = raw.transaction(() => {
    for (let i = 0; i < batch; i++) rawInsert.run(`n${i}`, i)
  })
  const writes = await compare(
    [
      { name: 'better-sqlite3 transaction, 1,000 run()', run: () => rawBatch() },
      {
        name: 'better-sqlite3, 1,000 run() each awaited (the floor for any async API)',
        run: async () => {
          raw.exec('BEGIN IMMEDIATE')
          for (let i = 0; i < batch; i++) await Promise.resolve(rawInsert.run(`n${i}`, i))
          raw.exec('COMMIT')
        },
      },
      {
        name: 'engram transaction, 1,000 await tx.run()',
        run: () =>
          engram.transaction(async (tx) => {
            for (let i = 0; i < batch; i++)
              await tx.run('INSERT INTO kv (name, score) VALUES (?, ?)', [`n${i}`, i])
          }),
      },
    ],
    slow,
  )
  printTable('1,000-row INSERT in one transaction, one statement per row (one op = 1,000 rows)', writes)

  // The same 1,000 rows as one multi-row INSERT per 250 rows (SQLite allows 32,766 parameters per statement).
  const perStatement = 250
  const multiSql = `INSERT INTO kv (name, score) VALUES ${Array.from({ length: perStatement }, () => '(?, ?)').join(', ')}`
  const multiParams = Array.from({ length: perStatement }, (_, i) => [`n${i}`, i]).flat()
  const rawMulti = raw.prepare(multiSql)
  const rawMultiBatch = raw.transaction(() => {
    for (let i = 0; i < batch / perStatement; i++) rawMulti.run(multiParams)
  })
  const multi = await compare(
    [
      { name: 'better-sqlite3 transaction, 4 × 250-row INSERT', run: () => rawMultiBatch() },
      {
        name: 'engram transaction, 4 × 250-row INSERT',
        run: () =>
          engram.transaction(async (tx) => {
            for (let i = 0; i < batch / perStatement; i++) await tx.run(multiSql, multiParams)
          }),
      },
    ],
    slow,
  )
  printTable(
    '1,000-row INSERT in one transaction, batched as multi-row statements (one op = 1,000 rows)',
    multi,
  )

  raw.close()
  await engram.close()
  rmSync(folder, { recursive: true, force: true })
}
