import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StorageError } from '@engram/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createSqlJsAdapter, type SqlJsAdapter } from '../src/index.js'
import { ensureBuilt } from './fixtures/ensure-built.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqljs-persistence-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const open: SqlJsAdapter[] = []

afterEach(async () => {
  for (const adapter of open.splice(0)) await adapter.close().catch(() => undefined)
})

/** A fresh file path in its own folder, so a test can remove the folder. */
function newFile(): string {
  const sub = join(folder, `case-${++counter}`)
  mkdirSync(sub)
  return join(sub, 'db.sqlite')
}

async function track(adapter: Promise<SqlJsAdapter>): Promise<SqlJsAdapter> {
  const opened = await adapter
  open.push(opened)
  return opened
}

/** Everything that changes when a file is rewritten: its bytes, inode (rename) and modification time. */
function snapshot(path: string): { bytes: string; ino: bigint; mtimeNs: bigint } {
  const stat = statSync(path, { bigint: true })
  return { bytes: readFileSync(path).toString('base64'), ino: stat.ino, mtimeNs: stat.mtimeNs }
}

/** Opens the bytes now on disk as a separate in-memory database, to see exactly what a crash would leave. */
async function onDisk(path: string): Promise<SqlJsAdapter> {
  return track(createSqlJsAdapter({ data: new Uint8Array(readFileSync(path)) }))
}

async function caught(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(StorageError)
  return error as StorageError
}

describe('saving to a file', () => {
  it('has a committed row in the file as soon as the commit resolves, and after reopening', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    await db.transaction((tx) => tx.run('INSERT INTO notes VALUES (1, ?)', ['kept']))
    expect(await (await onDisk(path)).all('SELECT id, body FROM notes')).toEqual([{ id: 1, body: 'kept' }])
    await db.run('INSERT INTO notes VALUES (2, ?)', ['outside a transaction'])
    expect(await (await onDisk(path)).get('SELECT COUNT(*) AS n FROM notes')).toEqual({ n: 2 })
    await db.close()
    const again = await track(createSqlJsAdapter({ filename: path }))
    expect(await again.all('SELECT body FROM notes ORDER BY id')).toEqual([
      { body: 'kept' },
      { body: 'outside a transaction' },
    ])
  })

  it('leaves the file untouched while a transaction is open and after it rolls back', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    await db.run('INSERT INTO notes VALUES (1, ?)', ['before'])
    const before = snapshot(path)
    const failure = new Error('roll back')
    const outcome = await db
      .transaction(async (tx) => {
        await tx.run('INSERT INTO notes VALUES (2, ?)', ['inside'])
        await tx.run(`UPDATE notes SET body = 'changed' WHERE id = 1`)
        await tx.exec('CREATE TABLE scratch (x INTEGER)')
        await tx.transaction((inner) => inner.run('INSERT INTO scratch VALUES (1)'))
        expect(snapshot(path)).toEqual(before)
        throw failure
      })
      .catch((error: unknown) => error)
    expect(outcome).toBe(failure)
    expect(snapshot(path)).toEqual(before)
    // Reads after the rollback must not rewrite the file either.
    expect(await db.all('SELECT body FROM notes')).toEqual([{ body: 'before' }])
    for await (const _row of db.iterate('SELECT * FROM notes')) break
    await db.transaction((tx) => tx.get('SELECT COUNT(*) AS n FROM notes'))
    await db.flush()
    expect(snapshot(path)).toEqual(before)
  })

  it('does not rewrite the file for reads, RETURNING-free failures or an UPDATE that matches nothing', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    await db.run(`INSERT INTO notes VALUES (1, 'a')`)
    const before = snapshot(path)
    await db.get('SELECT * FROM notes')
    await db.all('SELECT * FROM notes')
    await db.run(`UPDATE notes SET body = 'z' WHERE id = 99`)
    await db.run(`INSERT INTO notes VALUES (1, 'duplicate')`).catch(() => undefined)
    await db.export()
    expect(snapshot(path)).toEqual(before)
  })

  it('saves schema changes and changes made by INSERT … RETURNING through get()', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.run('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    expect(
      await (await onDisk(path)).all(`SELECT name FROM sqlite_schema WHERE name = 'notes'`),
    ).toHaveLength(1)
    expect(await db.get(`INSERT INTO notes (body) VALUES ('r') RETURNING id`)).toEqual({ id: 1 })
    expect(await (await onDisk(path)).get('SELECT body FROM notes')).toEqual({ body: 'r' })
    await db.run('PRAGMA user_version = 7')
    expect(await (await onDisk(path)).get('PRAGMA user_version')).toEqual({ user_version: 7 })
  })

  it('leaves no temporary files beside the database', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    for (let i = 0; i < 5; i++) await db.run('INSERT INTO t VALUES (?)', [i])
    expect(readdirSync(dirname(path))).toEqual(['db.sqlite'])
  })
})

describe('a failed save', () => {
  it('reports PERSIST_FAILED when the folder is gone, keeps the data, and flush() saves it once fixed', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    rmSync(dirname(path), { recursive: true })
    const error = await caught(db.run('INSERT INTO notes VALUES (1, ?)', ['not on disk yet']))
    expect(error.code).toBe('PERSIST_FAILED')
    expect(error.message).toContain(path)
    expect(error.message).toMatch(/committed in memory/)
    expect(error.message).toMatch(/flush\(\)/)
    // The commit stands in memory; reads work and do not throw the old failure again.
    expect(await db.get('SELECT body FROM notes')).toEqual({ body: 'not on disk yet' })
    await expect(db.flush()).rejects.toMatchObject({ code: 'PERSIST_FAILED' })
    mkdirSync(dirname(path))
    await db.flush()
    expect(await (await onDisk(path)).get('SELECT body FROM notes')).toEqual({ body: 'not on disk yet' })
  })

  it('is retried by the next commit', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    rmSync(dirname(path), { recursive: true })
    await expect(db.transaction((tx) => tx.run('INSERT INTO t VALUES (1)'))).rejects.toMatchObject({
      code: 'PERSIST_FAILED',
    })
    mkdirSync(dirname(path))
    await db.run('INSERT INTO t VALUES (2)')
    expect(await (await onDisk(path)).all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }])
  })

  it('makes close() fail and stay open, so a later close() saves everything', async () => {
    let broken = true
    const saved: Uint8Array[] = []
    const db = await track(
      createSqlJsAdapter({
        persist: (image) => {
          if (broken) throw new Error('disk full')
          saved.push(image)
        },
      }),
    )
    await db.exec('CREATE TABLE t (x INTEGER)').catch(() => undefined)
    const error = await caught(db.close())
    expect(error.code).toBe('PERSIST_FAILED')
    expect(error.message).toMatch(/disk full/)
    expect(error.message).toMatch(/close\(\) again/)
    expect(await db.get(`SELECT name FROM sqlite_schema WHERE name = 't'`)).toEqual({ name: 't' })
    broken = false
    await db.close()
    expect(saved).toHaveLength(1)
    const reopened = await track(createSqlJsAdapter({ data: saved[0] as Uint8Array }))
    expect(await reopened.get(`SELECT name FROM sqlite_schema WHERE name = 't'`)).toEqual({ name: 't' })
  })
})

describe('a persist callback', () => {
  it('gets one complete image per commit that changed something, and none for reads or rollbacks', async () => {
    const images: Uint8Array[] = []
    const db = await track(createSqlJsAdapter({ persist: (image) => void images.push(image) }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    await db.transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.run('INSERT INTO t VALUES (?)', [i])
    })
    await db.all('SELECT * FROM t')
    await db.transaction((tx) => tx.get('SELECT COUNT(*) AS n FROM t'))
    await db
      .transaction(async (tx) => {
        await tx.run('DELETE FROM t')
        throw new Error('undo')
      })
      .catch(() => undefined)
    await db.get('SELECT 1 AS one')
    expect(images).toHaveLength(2)
    const last = await track(createSqlJsAdapter({ data: images[1] as Uint8Array }))
    expect(await last.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 10 })
  })

  it('is awaited before the commit resolves, and nothing runs in between', async () => {
    const order: string[] = []
    const db = await track(
      createSqlJsAdapter({
        persist: async () => {
          order.push('save started')
          await new Promise((resolve) => setTimeout(resolve, 20))
          order.push('save finished')
        },
      }),
    )
    await db.exec('CREATE TABLE t (x INTEGER)')
    order.length = 0
    const write = db.run('INSERT INTO t VALUES (1)').then(() => order.push('write resolved'))
    const read = db.get('SELECT COUNT(*) AS n FROM t').then(() => order.push('read ran'))
    await Promise.all([write, read])
    expect(order).toEqual(['save started', 'save finished', 'write resolved', 'read ran'])
  })

  it('is retried by the next commit after it throws, with PERSIST_FAILED in between', async () => {
    let fail = true
    const images: Uint8Array[] = []
    const db = await track(
      createSqlJsAdapter({
        persist: async (image) => {
          if (fail) throw new Error('quota exceeded')
          images.push(image)
        },
      }),
    )
    const error = await caught(db.exec('CREATE TABLE t (x INTEGER)'))
    expect(error.code).toBe('PERSIST_FAILED')
    expect(error.message).toMatch(/persist callback/)
    expect((error.cause as Error).message).toBe('quota exceeded')
    fail = false
    await db.run('INSERT INTO t VALUES (1)')
    expect(images).toHaveLength(1)
    const saved = await track(createSqlJsAdapter({ data: images[0] as Uint8Array }))
    expect(await saved.all('SELECT x FROM t')).toEqual([{ x: 1 }])
  })
})

describe('export and import', () => {
  it('round-trips a database through export() and import()', async () => {
    const source = await track(createSqlJsAdapter())
    await source.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB, big INTEGER)')
    await source.run('INSERT INTO t VALUES (1, ?, ?)', [new Uint8Array([1, 2, 3]), 2n ** 62n])
    const image = await source.export()
    const path = newFile()
    const target = await track(createSqlJsAdapter({ filename: path }))
    await target.exec('CREATE TABLE old (x INTEGER)')
    await target.import(image)
    const expected = [{ id: 1, data: new Uint8Array([1, 2, 3]), big: 2n ** 62n }]
    expect(await target.all('SELECT * FROM t')).toEqual(expected)
    expect(await target.get(`SELECT name FROM sqlite_schema WHERE name = 'old'`)).toBeUndefined()
    // import() saves at once, and the imported database takes writes and saves them.
    expect(await (await onDisk(path)).all('SELECT * FROM t')).toEqual(expected)
    await target.run('INSERT INTO t (id) VALUES (2)')
    expect(await (await onDisk(path)).get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 2 })
  })

  it('rejects an image that is not a SQLite database and keeps the old data and file', async () => {
    const path = newFile()
    const db = await track(createSqlJsAdapter({ filename: path }))
    await db.exec(`CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('still here')`)
    const before = snapshot(path)
    const garbage = new TextEncoder().encode('this is not a database '.repeat(100))
    const header = await db.export()
    const corrupt = header.slice()
    corrupt.fill(0xab, 100)
    for (const image of [garbage, corrupt, new Uint8Array(0), 'text' as never]) {
      const error = await caught(db.import(image))
      expect(error.code).toBe('INVALID_ARGUMENT')
    }
    expect((await caught(db.import(garbage))).message).toMatch(/not a SQLite database/)
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 'still here' }])
    expect(snapshot(path)).toEqual(before)
  })

  it('export() waits for a running transaction and never includes its writes', async () => {
    const db = await track(createSqlJsAdapter())
    await db.exec('CREATE TABLE t (x INTEGER)')
    let entered!: () => void
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const transaction = db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)')
      entered()
      await new Promise((resolve) => setTimeout(resolve, 20))
      throw new Error('roll back')
    })
    await inside
    const exported = db.export()
    await expect(transaction).rejects.toThrow('roll back')
    const copy = await track(createSqlJsAdapter({ data: await exported }))
    expect(await copy.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 0 })
  })

  it('keeps foreign keys and cached statements working after export()', async () => {
    const db = await track(createSqlJsAdapter())
    await db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER, parent_id INTEGER REFERENCES parent(id))',
    )
    await db.run('INSERT INTO parent VALUES (?)', [1])
    await db.export()
    await db.run('INSERT INTO parent VALUES (?)', [2])
    await expect(db.run('INSERT INTO child VALUES (1, 99)')).rejects.toMatchObject({
      code: 'FOREIGN_KEY_VIOLATION',
    })
    await db.import(await db.export())
    await expect(db.run('INSERT INTO child VALUES (1, 99)')).rejects.toMatchObject({
      code: 'FOREIGN_KEY_VIOLATION',
    })
    expect(await db.get('SELECT COUNT(*) AS n FROM parent')).toEqual({ n: 2 })
  })
})

describe('a writer killed with SIGKILL', () => {
  beforeAll(() => ensureBuilt())

  const loop = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'commit-loop.mjs')

  /** Starts the commit loop and resolves with the last commit it reported once it has reported `commits` more. */
  function runUntil(child: ChildProcess, commits: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let seen = 0
      let last = 0
      let buffer = ''
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      child.stdout?.on('data', (chunk: Buffer) => {
        buffer += chunk.toString()
        const lines = buffer.split('\n')
        buffer = lines.pop() ?? ''
        for (const line of lines) {
          last = Number(line)
          if (++seen === commits) resolve(last)
        }
      })
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`the writer exited early (${code ?? signal}): ${stderr}`))
      })
    })
  }

  it('leaves a file that opens cleanly and holds only whole committed transactions', async () => {
    const path = newFile()
    let reported = 0
    // Kill at a different point each round, against a growing file.
    for (const commits of [3, 7, 12]) {
      const child = spawn(process.execPath, [loop, path], { stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = new Promise((resolve) => child.on('exit', resolve))
      reported = await runUntil(child, commits)
      // Let it get part-way into the next commit's save before the kill.
      await new Promise((resolve) => setTimeout(resolve, 3 + commits))
      child.kill('SIGKILL')
      await exited

      const db = await track(createSqlJsAdapter({ filename: path }))
      expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' })
      const batches = await db.all<{ txn: number; parts: number }>(
        'SELECT txn, COUNT(*) AS parts FROM batches GROUP BY txn ORDER BY txn',
      )
      const last = batches.length
      // Every commit the writer reported is on disk, and nothing beyond whole transactions.
      expect(last).toBeGreaterThanOrEqual(reported)
      expect(batches).toEqual(Array.from({ length: last }, (_, i) => ({ txn: i + 1, parts: 5 })))
      await db.close()
      open.splice(open.indexOf(db), 1)
    }
    expect(readdirSync(dirname(path)).filter((name) => name !== 'db.sqlite')).toEqual([])
    expect(existsSync(path)).toBe(true)
  })
})
