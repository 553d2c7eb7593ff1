import type { StorageAdapter } from '@engram/core'
import { ConversationMemory } from '@engram/memory'
import { afterAll, describe, expect, it } from 'vitest'
import { checkParity, createDualAdapter, type Discrepancy, migrate } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_dual')
afterAll(() => env.cleanup())

const NOTES = 'CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL, n INTEGER)'

/** A SQLite primary and a Postgres secondary, each with the notes table (the secondary's made by `secondarySql`). */
async function pair(secondarySql = NOTES): Promise<{ primary: StorageAdapter; secondary: StorageAdapter }> {
  const primary = env.sqlite(env.file())
  await primary.exec(NOTES)
  const { name } = await env.schema()
  const secondary = env.postgres(name)
  await secondary.exec(secondarySql)
  return { primary, secondary }
}

const rows = (db: StorageAdapter) => db.all('SELECT id, body, n FROM notes ORDER BY id')

describe('createDualAdapter', () => {
  it('mirrors every write to both databases and reads from the primary', async () => {
    const { primary, secondary } = await pair()
    const seen: Discrepancy[] = []
    const db = createDualAdapter({ primary, secondary, onDiscrepancy: (d) => seen.push(d) })
    await db.run('INSERT INTO notes (id, body, n) VALUES (?, ?, ?)', ['a', 'first', 1])
    await db.exec("INSERT INTO notes (id, body, n) VALUES ('b', 'second', 2)")
    const returned = await db.get<{ id: string }>('INSERT INTO notes (id, body) VALUES (?, ?) RETURNING id', [
      'c',
      'third',
    ])
    expect(returned).toEqual({ id: 'c' })
    expect((await db.run('UPDATE notes SET n = n + 10 WHERE id <> ?', ['c'])).changes).toBe(2)
    expect(await rows(primary)).toEqual(await rows(secondary))
    expect(await rows(secondary)).toEqual([
      { id: 'a', body: 'first', n: 11 },
      { id: 'b', body: 'second', n: 12 },
      { id: 'c', body: 'third', n: null },
    ])
    await primary.run("UPDATE notes SET body = 'only in the primary' WHERE id = 'a'")
    expect(await db.get("SELECT body FROM notes WHERE id = 'a'")).toEqual({ body: 'only in the primary' })
    expect(seen).toEqual([])
    expect(db.stats).toEqual({ mirrored: 4, discrepancies: 0, secondaryErrors: 0 })
  })

  it("reads from the secondary with readFrom: 'secondary'", async () => {
    const { primary, secondary } = await pair()
    const db = createDualAdapter({ primary, secondary, readFrom: 'secondary' })
    await db.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['a', 'both'])
    await secondary.run("UPDATE notes SET body = 'secondary' WHERE id = 'a'")
    expect(await db.get("SELECT body FROM notes WHERE id = 'a'")).toEqual({ body: 'secondary' })
    // Code that branches on dialect takes its SQLite path, whose statements both databases run.
    expect(db.dialect).toBe('sqlite')
    expect(createDualAdapter({ primary, secondary, dialect: 'postgres' }).dialect).toBe('postgres')
  })

  it('refuses on/off options that are not booleans', async () => {
    const { primary, secondary } = await pair()
    for (const flag of ['compareReads', 'failOnSecondaryError']) {
      expect(() => createDualAdapter({ primary, secondary, [flag]: 'false' })).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: `${flag} must be true or false, got "false"`,
        }),
      )
    }
  })

  it('commits a transaction on both, and rolls both back when the callback throws', async () => {
    const { primary, secondary } = await pair()
    const db = createDualAdapter({ primary, secondary })
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['kept', 'x'])
      await tx
        .transaction(async (inner) => {
          await inner.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['inner', 'x'])
          throw new Error('inner fails')
        })
        .catch(() => undefined)
    })
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['gone', 'x'])
        throw new Error('outer fails')
      }),
    ).rejects.toThrow('outer fails')
    expect(await rows(primary)).toEqual([{ id: 'kept', body: 'x', n: null }])
    expect(await rows(secondary)).toEqual([{ id: 'kept', body: 'x', n: null }])
  })

  it('lets the primary succeed when the secondary fails, and reports it', async () => {
    const { primary, secondary } = await pair('CREATE TABLE something_else (id TEXT)')
    const seen: Discrepancy[] = []
    const db = createDualAdapter({ primary, secondary, onDiscrepancy: (d) => seen.push(d) })
    await db.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['a', 'x'])
    expect(await rows(primary)).toHaveLength(1)
    expect(seen).toMatchObject([
      { kind: 'secondary-error', method: 'run', sql: expect.stringContaining('INSERT INTO notes') },
    ])
    expect((seen[0]?.error as { code?: string } | undefined)?.code).toBe('NOT_FOUND')
    expect(db.stats).toEqual({ mirrored: 0, discrepancies: 1, secondaryErrors: 1 })
  })

  it('fails the call on a secondary failure when failOnSecondaryError is set', async () => {
    const { primary, secondary } = await pair('CREATE TABLE something_else (id TEXT)')
    const db = createDualAdapter({
      primary,
      secondary,
      failOnSecondaryError: true,
      onDiscrepancy: () => undefined,
    })
    await expect(db.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['a', 'x'])).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    // In a transaction the failure rolls the primary back too.
    await expect(
      db.transaction((tx) => tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['b', 'x'])),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(await rows(primary)).toEqual([{ id: 'a', body: 'x', n: null }])
  })

  it('rolls back a secondary that failed inside a transaction while the primary commits', async () => {
    // The secondary refuses a second note with the same body; the primary does not.
    const { primary, secondary } = await pair(`${NOTES}; CREATE UNIQUE INDEX notes_body ON notes (body)`)
    const seen: Discrepancy[] = []
    const db = createDualAdapter({ primary, secondary, onDiscrepancy: (d) => seen.push(d) })
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['a', 'same'])
      await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['b', 'same'])
      await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['c', 'other'])
      expect(await tx.all('SELECT id FROM notes ORDER BY id')).toHaveLength(3)
    })
    expect(await rows(primary)).toHaveLength(3)
    expect(await rows(secondary)).toEqual([])
    expect(seen).toMatchObject([{ kind: 'secondary-error', method: 'run', params: ['b', 'same'] }])
    expect((seen[0]?.error as { code?: string } | undefined)?.code).toBe('UNIQUE_VIOLATION')
  })

  it('runs the primary alone when the secondary cannot even begin a transaction', async () => {
    const { primary, secondary } = await pair()
    await secondary.close()
    const seen: Discrepancy[] = []
    const db = createDualAdapter({ primary, secondary, onDiscrepancy: (d) => seen.push(d) })
    expect(
      await db.transaction(
        async (tx) => (await tx.run('INSERT INTO notes (id, body) VALUES (?, ?)', ['a', 'x'])).changes,
      ),
    ).toBe(1)
    expect(await rows(primary)).toHaveLength(1)
    expect(seen.map((d) => [d.kind, d.method])).toEqual([['secondary-error', 'transaction']])
  })

  it('reports a write that changed a different number of rows on each side', async () => {
    const { primary, secondary } = await pair()
    await primary.run("INSERT INTO notes (id, body) VALUES ('only-primary', 'x')")
    const seen: Discrepancy[] = []
    const db = createDualAdapter({ primary, secondary, onDiscrepancy: (d) => seen.push(d) })
    expect((await db.run("UPDATE notes SET n = 1 WHERE body = 'x'")).changes).toBe(1)
    expect(seen).toMatchObject([{ kind: 'changes', method: 'run', primary: 1, secondary: 0 }])
  })

  it('compares reads with compareReads, treating SQLite 1/0 and Postgres booleans as equal', async () => {
    const { primary, secondary } = await pair()
    const seen: Discrepancy[] = []
    const db = createDualAdapter({
      primary,
      secondary,
      compareReads: true,
      onDiscrepancy: (d) => seen.push(d),
    })
    await db.run('INSERT INTO notes (id, body, n) VALUES (?, ?, ?)', ['a', 'x', 5])
    expect(await db.all('SELECT id, n > 1 AS big FROM notes')).toEqual([{ id: 'a', big: 1 }])
    expect(seen).toEqual([])
    await secondary.run("UPDATE notes SET body = 'drifted'")
    await db.get('SELECT body FROM notes')
    expect(seen).toMatchObject([
      { kind: 'read', method: 'get', primary: { body: 'x' }, secondary: { body: 'drifted' } },
    ])
  })

  it('keeps both databases equal under checkParity through a cutover’s writes', async () => {
    const { primary, secondary } = await pair()
    const db = createDualAdapter({ primary, secondary })
    for (let i = 0; i < 50; i++) {
      await db.transaction(async (tx) => {
        await tx.run('INSERT INTO notes (id, body, n) VALUES (?, ?, ?)', [`n${i}`, `note ${i}`, i])
        if (i % 5 === 0) await tx.run('DELETE FROM notes WHERE id = ?', [`n${i - 1}`])
      })
    }
    const report = await checkParity(primary, secondary)
    expect(report.equal).toBe(true)
    expect(report.tables).toMatchObject([{ name: 'notes', rowsA: 41, rowsB: 41 }])
    await secondary.run("UPDATE notes SET body = 'changed' WHERE id = 'n7'")
    const after = await checkParity(primary, secondary)
    expect(after.equal).toBe(false)
    expect(after.mismatches[0]?.message).toMatch(/notes has 41 rows on both sides, but their contents differ/)
  })

  it('carries a conversation memory through the three phases with both sides equal, generated keys included', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    const before = new ConversationMemory(sqlite)
    for (let i = 0; i < 20; i++)
      await before.storeConversationTurn('ada', `c${i % 3}`, { role: 'user', content: `before ${i}` })
    const { name, url } = await env.schema()
    await migrate({ from: path, to: url })
    const postgres = env.postgres(name)
    const seen: Discrepancy[] = []
    const onDiscrepancy = (d: Discrepancy) => seen.push(d)

    // Phase 1: both written, SQLite answers.
    const phase1 = new ConversationMemory(
      createDualAdapter({ primary: sqlite, secondary: postgres, onDiscrepancy }),
    )
    for (let i = 0; i < 10; i++)
      await phase1.storeConversationTurn('ada', 'c1', { role: 'assistant', content: `phase 1, ${i}` })
    await phase1.updateConversation('ada', 'c1', { title: 'kept in step' })
    expect((await checkParity(sqlite, postgres)).equal).toBe(true)

    // Phase 2: both written, PostgreSQL answers (and its failures now fail the call).
    const phase2 = new ConversationMemory(
      createDualAdapter({ primary: postgres, secondary: sqlite, onDiscrepancy }),
    )
    for (let i = 0; i < 10; i++)
      await phase2.storeConversationTurn('ada', 'c2', { role: 'user', content: `phase 2, ${i}` })
    await phase2.deleteConversation('ada', 'c0')
    expect((await phase2.retrieveConversationTurns('ada', 'c1')).at(-1)?.content).toBe('phase 1, 9')
    expect((await checkParity(sqlite, postgres)).equal).toBe(true)
    expect(seen).toEqual([])

    // Phase 3: PostgreSQL alone has everything.
    const phase3 = new ConversationMemory(postgres)
    expect(await phase3.retrieveConversationTurns('ada', 'c0')).toEqual([])
    expect((await phase3.retrieveConversationTurns('ada', 'c2')).map((t) => t.content)).toContain(
      'phase 2, 9',
    )
  })

  it('stops working after close() and closes neither database', async () => {
    const { primary, secondary } = await pair()
    const db = createDualAdapter({ primary, secondary })
    await db.close()
    await expect(db.run('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' })
    expect(await primary.get('SELECT 1 AS one')).toEqual({ one: 1 })
    expect(await secondary.get('SELECT 1 AS one')).toEqual({ one: 1 })
  })
})
