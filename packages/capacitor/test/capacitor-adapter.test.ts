import { expectStorageError } from '@engram/conformance'
import { createDatabase, registerDriver, type StorageAdapter, StorageError } from '@engram/core'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { capacitorErrorCode, createCapacitorAdapter, driver } from '../src/index.js'
import { type Device, device } from './helpers.js'

const open: StorageAdapter[] = []
const track = (adapter: StorageAdapter): StorageAdapter => {
  open.push(adapter)
  return adapter
}
afterEach(async () => {
  vi.unstubAllGlobals()
  for (const adapter of open.splice(0)) await adapter.close().catch(() => undefined)
})

/** Reads a database file directly, bypassing the plugin and the adapter. */
function readFile(phone: Device, database: string, sql: string): unknown[] {
  const db = new Database(phone.plugin.path(database), { readonly: true })
  try {
    return db.prepare(sql).all()
  } finally {
    db.close()
  }
}

describe('transactions belong to the adapter', () => {
  it('calls the plugin with transaction: false on every execute and run', async () => {
    const phone = device()
    const db = track(await phone.open('tx-false'))
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)')
    await db.run('INSERT INTO t (name) VALUES (?)', ['outside'])
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO t (name) VALUES (?)', ['inside'])
      await tx.transaction((inner) => inner.run('UPDATE t SET name = ? WHERE id = 1', ['nested']))
    })
    await db
      .transaction(async () => {
        throw new Error('undo')
      })
      .catch(() => undefined)
    const writes = phone.plugin.calls.filter((c) => c.method === 'execute' || c.method === 'run')
    expect(writes.filter((c) => c.method === 'run').length).toBeGreaterThanOrEqual(3)
    expect(writes.map((c) => c.options.statements ?? c.options.statement)).toEqual(
      expect.arrayContaining([
        'BEGIN',
        'COMMIT',
        'SAVEPOINT engram_sp_1',
        'RELEASE SAVEPOINT engram_sp_1',
        'ROLLBACK',
      ]),
    )
    for (const call of writes) expect(call.options.transaction).toBe(false)
  })

  it('rolls back for real: the file holds nothing of a failed transaction', async () => {
    const phone = device()
    const db = track(await phone.open('rollback'))
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)')
    await db.run(`INSERT INTO t VALUES (1, 'kept')`)
    const error = await db
      .transaction(async (tx) => {
        await tx.run(`INSERT INTO t VALUES (2, 'discarded')`)
        await tx.run(`UPDATE t SET name = 'changed' WHERE id = 1`)
        throw new Error('undo')
      })
      .catch((e: unknown) => e)
    expect((error as Error).message).toBe('undo')
    await db.close()
    expect(readFile(phone, 'rollback', 'SELECT id, name FROM t')).toEqual([{ id: 1, name: 'kept' }])
  })

  it('is why transaction: false matters: the plugin default fails inside an open transaction and ends it', async () => {
    // This checks the double against the plugin's Android code, through the plugin's own wrapper.
    const phone = device()
    const conn = await phone.sqlite.createConnection('plain', false, 'no-encryption', 1, false)
    await conn.open()
    await conn.execute('CREATE TABLE t (x INTEGER)', false)
    await conn.execute('BEGIN', false)
    await conn.run('INSERT INTO t VALUES (1)', [], false)
    await expect(conn.run('INSERT INTO t VALUES (2)')).rejects.toThrow(/Already in transaction/)
    expect((await conn.isTransactionActive()).result).toBe(false)
    expect((await conn.query('SELECT COUNT(*) AS n FROM t')).values).toEqual([{ n: 0 }])
    await phone.sqlite.closeConnection('plain', false)
  })
})

describe('connections', () => {
  it('reads back what it wrote after close and reopen, and closes the plugin connection', async () => {
    const phone = device()
    const first = await phone.open('notes.db')
    await first.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    await first.run('INSERT INTO notes (body) VALUES (?)', ['hello'])
    await first.close()
    expect(phone.plugin.calls.at(-1)).toEqual({
      method: 'closeConnection',
      options: { database: 'notes', readonly: false },
    })
    expect(phone.plugin.connectionKeys()).toEqual([])
    const second = track(await phone.open('notes'))
    expect(await second.all('SELECT body FROM notes')).toEqual([{ body: 'hello' }])
  })

  it('opens the same database again after an app reload left the native connection open', async () => {
    const phone = device()
    const before = await phone.open('reload')
    await before.exec('CREATE TABLE t (x INTEGER)')
    await before.run('INSERT INTO t VALUES (42)')
    // The page reloads: the old adapter is never closed, and the new wrapper knows no connections.
    phone.reload()
    await expect(phone.sqlite.createConnection('reload', false, 'no-encryption', 1, false)).rejects.toThrow(
      /already exists/,
    )
    phone.reload()
    const after = track(await phone.open('reload'))
    expect(await after.all('SELECT x FROM t')).toEqual([{ x: 42 }])
  })

  it('takes over a connection the app opened on the same wrapper', async () => {
    const phone = device()
    const mine = await phone.sqlite.createConnection('shared', false, 'no-encryption', 1, false)
    await mine.open()
    await mine.execute('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);', false)
    const db = track(await phone.open('shared'))
    expect(await db.all('SELECT x FROM t')).toEqual([{ x: 7 }])
    expect(phone.plugin.calls.filter((c) => c.method === 'createConnection')).toHaveLength(1)
  })

  it('refuses a second adapter on a database another adapter holds, with what to do', async () => {
    const phone = device()
    track(await phone.open('once'))
    const error = await phone.open('once').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StorageError)
    expect((error as StorageError).code).toBe('INVALID_ARGUMENT')
    expect((error as StorageError).message).toMatch(/already open by another engram adapter/)
  })

  it('rejects names that are paths or in-memory databases', async () => {
    const phone = device()
    for (const database of ['', 'a/b', ':memory:', '..\\x']) {
      await expectStorageError(phone.open(database), 'INVALID_ARGUMENT')
    }
    await expectStorageError(phone.open('x', { pageSize: 0 }), 'INVALID_ARGUMENT')
    await expectStorageError(phone.open('x', { version: 1.5 }), 'INVALID_ARGUMENT')
    await expectStorageError(phone.open('x', { encrypted: 'no' as never }), 'INVALID_ARGUMENT')
    await expectStorageError(phone.open('x', { readonly: 'false' as never }), 'INVALID_ARGUMENT')
    expect(phone.plugin.calls).toEqual([])
  })

  it('opens read-only: reads work, writes fail with READONLY', async () => {
    const phone = device()
    const writer = await phone.open('ro')
    await writer.exec('CREATE TABLE t (x INTEGER)')
    await writer.run('INSERT INTO t VALUES (1)')
    await writer.close()
    const reader = track(await phone.open('ro', { readonly: true }))
    expect(await reader.all('SELECT x FROM t')).toEqual([{ x: 1 }])
    expect(reader.capabilities.fts).toBe('fts5')
    await expectStorageError(reader.run('INSERT INTO t VALUES (2)'), 'READONLY')
    await expectStorageError(reader.exec('DELETE FROM t'), 'READONLY')
  })
})

describe('encryption', () => {
  it('passes encrypted: true and mode secret to createConnection, with the stored passphrase', async () => {
    const phone = device()
    await phone.sqlite.setEncryptionSecret('correct horse battery staple')
    track(await phone.open('vault', { encrypted: true, version: 3 }))
    const create = phone.plugin.calls.find((c) => c.method === 'createConnection')
    expect(create?.options).toEqual({
      database: 'vault',
      encrypted: true,
      mode: 'secret',
      version: 3,
      readonly: false,
    })
  })

  it('passes another mode as given', async () => {
    const phone = device()
    await phone.sqlite.setEncryptionSecret('pass')
    track(await phone.open('to-encrypt', { encrypted: true, mode: 'encryption' }))
    const create = phone.plugin.calls.find((c) => c.method === 'createConnection')
    expect(create?.options).toMatchObject({ encrypted: true, mode: 'encryption' })
  })

  it('opens a plain database with encrypted: false and mode no-encryption', async () => {
    const phone = device()
    track(await phone.open('plain'))
    const create = phone.plugin.calls.find((c) => c.method === 'createConnection')
    expect(create?.options).toMatchObject({ encrypted: false, mode: 'no-encryption' })
  })

  it('fails before connecting when no passphrase is stored, and says how to store one', async () => {
    const phone = device()
    const error = await expectStorageError(phone.open('vault', { encrypted: true }), 'CONNECTION_FAILED')
    expect(error.message).toMatch(/setEncryptionSecret/)
    expect(phone.plugin.calls.map((c) => c.method)).not.toContain('createConnection')
  })
})

describe('errors', () => {
  it('maps constraint and SQL errors from the plugin to portable codes', async () => {
    const phone = device()
    const db = track(await phone.open('errors'))
    await db.exec(`
      CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), name TEXT NOT NULL UNIQUE, n INTEGER CHECK (n > 0));
      INSERT INTO parent VALUES (1);
      INSERT INTO child VALUES (1, 1, 'a', 1);
    `)
    await expectStorageError(db.run(`INSERT INTO child VALUES (1, 1, 'b', 1)`), 'UNIQUE_VIOLATION')
    await expectStorageError(db.run(`INSERT INTO child VALUES (2, 1, 'a', 1)`), 'UNIQUE_VIOLATION')
    await expectStorageError(db.run(`INSERT INTO child VALUES (2, 9, 'b', 1)`), 'FOREIGN_KEY_VIOLATION')
    await expectStorageError(db.run(`INSERT INTO child VALUES (2, 1, NULL, 1)`), 'NOT_NULL_VIOLATION')
    await expectStorageError(db.run(`INSERT INTO child VALUES (2, 1, 'b', 0)`), 'CHECK_VIOLATION')
    await expectStorageError(db.all('SELEKT 1'), 'SYNTAX_ERROR')
    await expectStorageError(db.all('SELECT * FROM nowhere'), 'NOT_FOUND')
    const error = await expectStorageError(db.run(`INSERT INTO parent VALUES (1)`), 'UNIQUE_VIOLATION')
    expect(String((error.cause as Error).message)).toMatch(/^Run: UNIQUE constraint failed/)
  })

  it('reads the code from each platform’s message format', () => {
    expect(
      capacitorErrorCode(
        new Error('Run: UNIQUE constraint failed: t.id (code 1555 SQLITE_CONSTRAINT_PRIMARYKEY)'),
      ),
    ).toBe('UNIQUE_VIOLATION')
    expect(
      capacitorErrorCode(
        new Error('RUN failed: Error: RunSQL: Error: PrepareRun: FOREIGN KEY constraint failed'),
      ),
    ).toBe('FOREIGN_KEY_VIOLATION')
    expect(capacitorErrorCode(new Error('Execute: database is locked (code 5 SQLITE_BUSY)'))).toBe('BUSY')
    expect(capacitorErrorCode('not allowed in read-only mode')).toBe('READONLY')
    expect(capacitorErrorCode(new Error('Query: No available connection for database x'))).toBe(
      'CONNECTION_FAILED',
    )
    expect(capacitorErrorCode('Connection x does not exist')).toBe('CONNECTION_FAILED')
    expect(capacitorErrorCode(new Error('Run: Failed in beginTransactionAlready in transaction'))).toBe(
      'QUERY_FAILED',
    )
  })
})

describe('values across the bridge', () => {
  for (const platform of ['android', 'ios'] as const) {
    it(`round-trips blobs byte-exact on ${platform}`, async () => {
      const phone = device({ platform })
      const db = track(await phone.open('blobs'))
      await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)')
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256)
      await db.run('INSERT INTO t VALUES (1, ?), (2, ?)', [bytes, new Uint8Array(0)])
      const rows = await db.all<{ data: Uint8Array }>('SELECT data FROM t ORDER BY id')
      expect(Object.getPrototypeOf(rows[0]?.data)).toBe(Uint8Array.prototype)
      expect(Array.from(rows[0]?.data ?? [])).toEqual(Array.from(bytes))
      expect(rows[1]?.data).toEqual(new Uint8Array(0))
      expect(readFile(phone, 'blobs', 'SELECT typeof(data) AS type FROM t ORDER BY id')).toEqual([
        { type: 'blob' },
        { type: 'blob' },
      ])
    })
  }

  it('sends blobs in the shape each native side binds (Android rejects iOS’s, iOS drops Android’s)', async () => {
    const android = device({ platform: 'android' })
    const wrong = track(await android.open('wrong', { platform: 'ios' }))
    await wrong.exec('CREATE TABLE t (data BLOB)')
    await expect(wrong.run('INSERT INTO t VALUES (?)', [new Uint8Array([1])])).rejects.toThrow(/Cannot bind/)
    const ios = device({ platform: 'ios' })
    const dropped = track(await ios.open('dropped', { platform: 'android' }))
    await dropped.exec('CREATE TABLE t (data BLOB)')
    await dropped.run('INSERT INTO t VALUES (?)', [new Uint8Array([1])])
    expect(await dropped.all('SELECT data FROM t')).toEqual([{ data: null }])
  })

  it('writes integers beyond 2^53 exactly, but reads them back as the nearest number', async () => {
    const phone = device()
    const db = track(await phone.open('big'))
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)')
    const big = 2n ** 63n - 1n
    await db.run('INSERT INTO t VALUES (1, ?)', [big])
    expect(await db.get('SELECT CAST(n AS TEXT) AS n FROM t')).toEqual({ n: big.toString() })
    expect(await db.get('SELECT id FROM t WHERE n = ?', [big])).toEqual({ id: 1 })
    // The JSON bridge rounds; the README says so, and the conformance suite's bigint read is left out.
    expect(await db.get('SELECT n FROM t')).toEqual({ n: Number(big) })
  })

  it('reports lastInsertRowid above 2^53 exactly by asking again as text', async () => {
    const phone = device()
    const db = track(await phone.open('rowid'))
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)')
    await db.run(`INSERT INTO t VALUES (?, 'big')`, [2n ** 60n])
    expect((await db.run(`INSERT INTO t (name) VALUES ('next')`)).lastInsertRowid).toBe(2n ** 60n + 1n)
    expect((await db.run(`INSERT INTO t VALUES (5, 'small')`)).lastInsertRowid).toBe(5)
  })

  it('keeps floats, booleans, Dates, NULL and the empty string apart', async () => {
    const phone = device()
    const db = track(await phone.open('values'))
    await db.exec('CREATE TABLE t (id INTEGER, x REAL, flag BOOLEAN, at TEXT, s TEXT)')
    const when = new Date(Date.UTC(2024, 1, 29, 13, 45, 6, 789))
    await db.run('INSERT INTO t VALUES (1, ?, ?, ?, ?), (2, ?, ?, ?, ?)', [
      5e-324,
      true,
      when,
      null,
      -1.5e300,
      false,
      when,
      '',
    ])
    expect(await db.all('SELECT x, flag, at, s FROM t ORDER BY id')).toEqual([
      { x: 5e-324, flag: 1, at: '2024-02-29T13:45:06.789Z', s: null },
      { x: -1.5e300, flag: 0, at: '2024-02-29T13:45:06.789Z', s: '' },
    ])
  })

  it('rejects undefined before anything reaches the plugin', async () => {
    const phone = device()
    const db = track(await phone.open('undefined'))
    const calls = phone.plugin.calls.length
    await expectStorageError(db.run('SELECT ?', [undefined as never]), 'INVALID_ARGUMENT')
    expect(phone.plugin.calls.length).toBe(calls)
  })
})

describe('iterate and get without a cursor', () => {
  it('pages through a query with LIMIT/OFFSET, one bridge call per page', async () => {
    const phone = device()
    const db = track(await phone.open('pages', { pageSize: 3 }))
    await db.exec('CREATE TABLE t (n INTEGER)')
    for (let n = 1; n <= 10; n++) await db.run('INSERT INTO t VALUES (?)', [n])
    const before = phone.plugin.calls.length
    const seen: number[] = []
    for await (const row of db.iterate<{ n: number }>(
      'SELECT n FROM t WHERE n > ? ORDER BY n DESC -- newest first',
      [0],
    ))
      seen.push(row.n)
    expect(seen).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    const pages = phone.plugin.calls.slice(before)
    expect(pages.map((c) => c.method)).toEqual(['query', 'query', 'query', 'query'])
    expect(pages.map((c) => /LIMIT (\d+) OFFSET (\d+)$/.exec(String(c.options.statement))?.slice(1))).toEqual(
      [
        ['3', '0'],
        ['3', '3'],
        ['3', '6'],
        ['3', '9'],
      ],
    )
  })

  it('runs statements that cannot be a subquery whole', async () => {
    const phone = device()
    const db = track(await phone.open('pragma', { pageSize: 1 }))
    await db.exec('CREATE TABLE t (a INTEGER, b TEXT)')
    const names: unknown[] = []
    for await (const row of db.iterate<{ name: string }>('PRAGMA table_info(t);')) names.push(row.name)
    expect(names).toEqual(['a', 'b'])
  })

  it('returns the same row from get, all and iterate when a join repeats a column name', async () => {
    const phone = device()
    const db = track(await phone.open('joins', { pageSize: 1 }))
    await db.exec(`
      CREATE TABLE a (id INTEGER, x INTEGER); CREATE TABLE b (id INTEGER, y INTEGER);
      INSERT INTO a VALUES (1, 10); INSERT INTO b VALUES (2, 20);
    `)
    const sql = 'SELECT a.id, a.x, b.id, b.y FROM a JOIN b'
    const all = await db.all(sql)
    const iterated: unknown[] = []
    for await (const row of db.iterate(sql)) iterated.push(row)
    expect(all).toEqual([{ id: 2, x: 10, y: 20 }])
    expect(await db.get(sql)).toEqual(all[0])
    expect(iterated).toEqual(all)
  })

  it('fetches one row for get()', async () => {
    const phone = device()
    const db = track(await phone.open('get'))
    await db.exec('CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);')
    expect(await db.get('SELECT n FROM t ORDER BY n DESC;')).toEqual({ n: 3 })
    expect(String(phone.plugin.calls.at(-1)?.options.statement)).toMatch(/LIMIT 1 OFFSET 0$/)
  })
})

describe('capabilities', () => {
  /** A build of the plugin whose SQLite lacks some full-text modules, as some SQLCipher builds do. */
  function withoutModules(...missing: string[]): Device {
    const phone = device()
    const execute = phone.plugin.execute.bind(phone.plugin)
    phone.plugin.execute = async (options) => {
      const module = missing.find((m) => String(options.statements).includes(`USING ${m}(`))
      if (module) throw new Error(`Execute: no such module: ${module} (code SQLITE_ERROR)`)
      return execute(options)
    }
    return phone
  }

  it('detects FTS5 and reports a file database without RETURNING', async () => {
    const db = track(await device().open('caps'))
    expect(db.kind).toBe('capacitor')
    expect(db.capabilities).toEqual({
      fts: 'fts5',
      json: true,
      returning: false,
      savepoints: true,
      lastInsertRowid: true,
      concurrency: 'single',
      persistence: 'file',
    })
  })

  it('falls back to FTS4, then to no full text, and leaves no probe table behind', async () => {
    const fts4 = withoutModules('fts5')
    const db = track(await fts4.open('fts4'))
    expect(db.capabilities.fts).toBe('fts4')
    expect(await db.all(`SELECT name FROM sqlite_temp_master`)).toEqual([])
    expect(readFile(fts4, 'fts4', 'SELECT name FROM sqlite_master')).toEqual([])
    const none = track(await withoutModules('fts5', 'fts4').open('none'))
    expect(none.capabilities.fts).toBe(false)
  })
})

describe('driver', () => {
  it('is UNSUPPORTED outside a native Capacitor platform, so auto moves on', async () => {
    vi.stubGlobal('Capacitor', { isNativePlatform: () => false, getPlatform: () => 'web' })
    const error = await expectStorageError(driver.open({ type: 'capacitor', database: 'x' }), 'UNSUPPORTED')
    expect(error.message).toMatch(/web/)
  })

  it('is UNSUPPORTED for an in-memory database', async () => {
    vi.stubGlobal('Capacitor', { isNativePlatform: () => true, getPlatform: () => 'android' })
    await expectStorageError(
      driver.open({ type: 'capacitor', filename: ':memory:', sqlite: device().sqlite }),
      'UNSUPPORTED',
    )
  })

  it('opens through createDatabase on a native platform, naming the database after the file', async () => {
    vi.stubGlobal('Capacitor', { isNativePlatform: () => true, getPlatform: () => 'android' })
    registerDriver(driver)
    const phone = device()
    const db = track(await createDatabase({ filename: 'data/app.db', sqlite: phone.sqlite }))
    expect(db.kind).toBe('capacitor')
    expect(phone.plugin.calls.find((c) => c.method === 'createConnection')?.options.database).toBe('app')
  })

  it('uses the platform Capacitor reports when none is given', async () => {
    vi.stubGlobal('Capacitor', { isNativePlatform: () => true, getPlatform: () => 'ios' })
    const phone = device({ platform: 'ios' })
    const db = track(await createCapacitorAdapter({ database: 'auto-platform', sqlite: phone.sqlite }))
    await db.exec('CREATE TABLE t (data BLOB)')
    await db.run('INSERT INTO t VALUES (?)', [new Uint8Array([9, 8])])
    expect(await db.all('SELECT data FROM t')).toEqual([{ data: new Uint8Array([9, 8]) }])
  })
})
