import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectStorageError } from '@engram/conformance'
import { createDatabase, StorageError } from '@engram/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqliteNativeAdapter } from '../src/index.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqlite-native-unit-'))
const open: Array<{ close(): Promise<void> }> = []
const track = <T extends { close(): Promise<void> }>(adapter: T): T => {
  open.push(adapter)
  return adapter
}
afterEach(async () => {
  for (const adapter of open.splice(0)) await adapter.close()
})

describe('createSqliteNativeAdapter', () => {
  it('turns on WAL, foreign keys and a busy timeout by default', async () => {
    const db = track(createSqliteNativeAdapter({ filename: join(folder, 'defaults.db') }))
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' })
    expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 })
    expect(await db.get('PRAGMA busy_timeout')).toEqual({ timeout: 5000 })
  })

  it('refuses a file name with NUL or a lone surrogate before creating anything', () => {
    const dir = mkdtempSync(join(folder, 'names-'))
    for (const name of ['cut\u0000here.db', 'half\uD800.db']) {
      expect(() => createSqliteNativeAdapter({ filename: join(dir, name) })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      )
    }
    expect(readdirSync(dir)).toEqual([])
  })

  it('refuses an on/off option that is not a boolean, or a count that is not a whole number, before creating anything', () => {
    const dir = mkdtempSync(join(folder, 'flags-'))
    // A string from an environment variable: 'false' would otherwise read as on.
    for (const flag of ['readonly', 'fileMustExist', 'wal', 'foreignKeys', 'guardTransactions']) {
      expect(() =>
        createSqliteNativeAdapter({ filename: join(dir, 'x', 'flags.db'), [flag]: 'false' }),
      ).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: `${flag} must be true or false, got "false"`,
        }),
      )
    }
    for (const [option, value] of [
      ['busyTimeout', '5000'],
      ['statementCacheSize', -1],
    ] as const) {
      expect(() =>
        createSqliteNativeAdapter({ filename: join(dir, 'x', 'flags.db'), [option]: value }),
      ).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(option) }),
      )
    }
    expect(readdirSync(dir)).toEqual([])
  })

  it('creates missing parent folders for a file database', async () => {
    const db = track(createSqliteNativeAdapter({ filename: join(folder, 'a', 'b', 'nested.db') }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    expect(db.capabilities.persistence).toBe('file')
  })

  it('rejects writes to a read-only database with READONLY', async () => {
    const path = join(folder, 'ro.db')
    const writer = createSqliteNativeAdapter({ filename: path })
    await writer.exec('CREATE TABLE t (x INTEGER)')
    await writer.close()
    const reader = track(createSqliteNativeAdapter({ filename: path, readonly: true }))
    await expectStorageError(reader.run('INSERT INTO t VALUES (1)'), 'READONLY')
  })

  it('reports a file that cannot be opened as CONNECTION_FAILED', () => {
    expect(() =>
      createSqliteNativeAdapter({ filename: join(folder, 'missing.db'), fileMustExist: true }),
    ).toThrow(StorageError)
  })

  it('keeps working when more distinct statements run than the statement cache holds', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:', statementCacheSize: 4 }))
    for (let i = 0; i < 20; i++) expect(await db.get(`SELECT ${i} AS n`)).toEqual({ n: i })
    expect(await db.get('SELECT 0 AS n')).toEqual({ n: 0 })
  })

  it('reports BUSY when another connection holds the write lock past the timeout', async () => {
    const path = join(folder, 'busy.db')
    const a = track(createSqliteNativeAdapter({ filename: path, busyTimeout: 50 }))
    const b = track(createSqliteNativeAdapter({ filename: path, busyTimeout: 50 }))
    await a.exec('CREATE TABLE t (x INTEGER)')
    await a.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)')
      await expectStorageError(b.run('INSERT INTO t VALUES (2)'), 'BUSY')
    })
    expect(await b.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 1 })
  })
})

describe('several adapters on one file in one process', () => {
  it("a writer waits for another adapter's open transaction without blocking the event loop", async () => {
    const path = join(folder, 'shared-writers.db')
    const a = track(createSqliteNativeAdapter({ filename: path, busyTimeout: 10_000 }))
    const b = track(createSqliteNativeAdapter({ filename: path, busyTimeout: 10_000 }))
    await a.exec('CREATE TABLE t (x INTEGER)')
    const order: string[] = []
    let bWrite: Promise<unknown> | undefined
    await a.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)')
      bWrite = b.run('INSERT INTO t VALUES (2)').then(() => order.push('b wrote'))
      // A synchronous busy wait in b would keep this timer from firing until b gave up with BUSY.
      await new Promise((resolve) => setTimeout(resolve, 20))
      order.push('a timer')
      await tx.run('INSERT INTO t VALUES (3)')
    })
    await bWrite
    // b's write ran only once a's transaction had ended, and the timer inside it was not held up.
    expect(order).toEqual(['a timer', 'b wrote'])
    expect(await b.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }])
  })

  it('two adapters running transactions at once on one file both commit', async () => {
    const path = join(folder, 'shared-transactions.db')
    const a = track(createSqliteNativeAdapter({ filename: path }))
    const b = track(createSqliteNativeAdapter({ filename: path }))
    await a.exec('CREATE TABLE counter (n INTEGER)')
    await a.run('INSERT INTO counter VALUES (0)')
    const bump = (db: typeof a) =>
      db.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>('SELECT n FROM counter')
        await new Promise((resolve) => setImmediate(resolve))
        await tx.run('UPDATE counter SET n = ?', [(row?.n ?? 0) + 1])
      })
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 === 0 ? a : b)))
    expect(await a.get('SELECT n FROM counter')).toEqual({ n: 20 })
  })

  it('reads on another adapter go on while a write transaction is open (WAL)', async () => {
    const path = join(folder, 'shared-readers.db')
    const a = track(createSqliteNativeAdapter({ filename: path }))
    const b = track(createSqliteNativeAdapter({ filename: path }))
    await a.exec('CREATE TABLE t (x INTEGER)')
    await a.run('INSERT INTO t VALUES (1)')
    await a.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (2)')
      expect(await b.all('SELECT x FROM t')).toEqual([{ x: 1 }])
    })
  })
})

describe('createDatabase with sqlite-native installed', () => {
  it('opens a path with the sqlite-native driver', async () => {
    const db = track(await createDatabase(join(folder, 'by-path.db')))
    expect(db.kind).toBe('sqlite-native')
    expect(db.dialect).toBe('sqlite')
  })

  it('opens type: auto with sqlite-native on Node', async () => {
    const db = track(await createDatabase({ type: 'auto', filename: ':memory:' }))
    expect(db.kind).toBe('sqlite-native')
    expect(db.capabilities.persistence).toBe('memory')
  })

  it('opens a file: URL', async () => {
    const db = track(await createDatabase(`file:${join(folder, 'by-url.db')}`))
    await db.exec('CREATE TABLE t (x INTEGER)')
    expect(await db.all('SELECT name FROM sqlite_master')).toEqual([{ name: 't' }])
  })
})

describe('transactions on one connection', () => {
  it('fails fast when the callback calls the outer adapter instead of tx', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:', guardTransactions: true }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    const error = await db
      .transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (1)')
        await db.run('INSERT INTO t VALUES (2)') // the outer adapter: would wait for this very transaction
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).message).toMatch(/use the tx handle/)
    expect(await db.all('SELECT x FROM t')).toEqual([])
  })

  it('fails fast for the same mistake one savepoint down', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:', guardTransactions: true }))
    const error = await db
      .transaction((tx) => tx.transaction(() => tx.get('SELECT 1 AS one')))
      .catch((e: unknown) => e)
    expect((error as StorageError).code).toBe('INVALID_ARGUMENT')
  })

  it('still lets unrelated callers wait for a running transaction', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    await db.exec('CREATE TABLE t (x INTEGER)')
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const running = db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)')
      await gate
    })
    const waiting = db.get<{ n: number }>('SELECT COUNT(*) AS n FROM t')
    release()
    await running
    expect(await waiting).toEqual({ n: 1 })
  })
})

describe('durability settings', () => {
  it('commits with synchronous NORMAL on a WAL file by default, and FULL on request or without WAL', async () => {
    const normal = track(createSqliteNativeAdapter({ filename: join(folder, 'sync-normal.db') }))
    const full = track(
      createSqliteNativeAdapter({ filename: join(folder, 'sync-full.db'), synchronous: 'full' }),
    )
    const rollback = track(
      createSqliteNativeAdapter({ filename: join(folder, 'sync-rollback.db'), wal: false }),
    )
    expect(await normal.get('PRAGMA synchronous')).toEqual({ synchronous: 1 })
    expect(await full.get('PRAGMA synchronous')).toEqual({ synchronous: 2 })
    expect(await rollback.get('PRAGMA synchronous')).toEqual({ synchronous: 2 })
  })

  it('maps the file for reads with mmapSize, and leaves mapping off by default', async () => {
    const mapped = track(
      createSqliteNativeAdapter({ filename: join(folder, 'mapped.db'), mmapSize: 1 << 26 }),
    )
    expect(await mapped.get('PRAGMA mmap_size')).toEqual({ mmap_size: 1 << 26 })
    const plain = track(createSqliteNativeAdapter({ filename: join(folder, 'plain.db') }))
    expect(await plain.get('PRAGMA mmap_size')).toEqual({ mmap_size: 0 })
    expect(() => createSqliteNativeAdapter({ filename: join(folder, 'bad.db'), mmapSize: -1 })).toThrow(
      /mmapSize must be a whole number/,
    )
  })

  it('rejects an unknown synchronous mode with INVALID_ARGUMENT', () => {
    expect(() => createSqliteNativeAdapter({ filename: ':memory:', synchronous: 'off' as never })).toThrow(
      /synchronous must be/,
    )
  })
})

describe('integers beyond 2^53', () => {
  const big = 2n ** 60n + 1n

  it('reads them exactly through get() and all(), next to ordinary numbers in the same query', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    await db.exec('CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER, x REAL)')
    await db.run('INSERT INTO n VALUES (1, ?, 1.5), (2, 7, 1e300)', [big])
    expect(await db.get('SELECT v, x FROM n WHERE id = 1')).toEqual({ v: big, x: 1.5 })
    expect(await db.all('SELECT id, v, x FROM n ORDER BY id')).toEqual([
      { id: 1, v: big, x: 1.5 },
      { id: 2, v: 7, x: 1e300 },
    ])
  })

  it('returns them exactly from INSERT … RETURNING, which runs once', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    await db.exec('CREATE TABLE r (id INTEGER PRIMARY KEY, v INTEGER)')
    expect(await db.get('INSERT INTO r (id, v) VALUES (?, ?) RETURNING id, v', [big, big])).toEqual({
      id: big,
      v: big,
    })
    expect(await db.all('SELECT count(*) AS n FROM r')).toEqual([{ n: 1 }])
  })
})

describe('rows in the contract shape', () => {
  it('reads columns whose names hold quotes, backslashes, spaces and non-ASCII characters', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    const names = ['it"s', "o'clock", 'back\\slash', 'two words', 'ünï', 'a`b', '']
    const columns = names.map((name, i) => `${i + 1} AS "${name.replaceAll('"', '""')}"`).join(', ')
    const expected = Object.fromEntries(names.map((name, i) => [name, i + 1]))
    expect(await db.get(`SELECT ${columns}`)).toEqual(expected)
    expect(await db.all(`SELECT ${columns} UNION ALL SELECT ${columns}`)).toEqual([expected, expected])
  })

  it('returns blobs as plain Uint8Array from get() and all(), also in a query that re-reads a big integer', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    await db.exec('CREATE TABLE b (id INTEGER PRIMARY KEY, data BLOB, n INTEGER)')
    await db.run('INSERT INTO b VALUES (1, ?, 1), (2, ?, ?)', [
      new Uint8Array([1, 2, 3]),
      new Uint8Array([4]),
      2n ** 60n,
    ])
    const one = await db.get<{ data: Uint8Array }>('SELECT data FROM b WHERE id = 1')
    expect(one?.data.constructor).toBe(Uint8Array)
    expect([...(one?.data ?? [])]).toEqual([1, 2, 3])
    const rows = await db.all<{ data: Uint8Array; n: number | bigint }>('SELECT data, n FROM b ORDER BY id')
    expect(rows.map((row) => row.data.constructor)).toEqual([Uint8Array, Uint8Array])
    expect(rows.map((row) => [...row.data])).toEqual([[1, 2, 3], [4]])
    expect(rows.map((row) => row.n)).toEqual([1, 2n ** 60n])
  })

  it('gives the same columns the same checks in different statements, and different columns their own', async () => {
    const db = track(createSqliteNativeAdapter({ filename: ':memory:' }))
    const big = 2n ** 55n
    expect(await db.get('SELECT ? AS a, 1 AS b', [big])).toEqual({ a: big, b: 1 })
    expect(await db.get('SELECT 1 AS a, ? AS b', [big])).toEqual({ a: 1, b: big })
    expect(await db.get('SELECT ? AS b, 2 AS c', [big])).toEqual({ b: big, c: 2 })
  })
})
