import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, registerDriver, StorageError } from '@engram/core'
import initSqlJs from 'sql.js'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createSqlJsAdapter, driver, type SqlJsAdapter, type SqlJsStatic } from '../src/index.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-sqljs-adapter-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const adapter of open.splice(0)) await adapter.close().catch(() => undefined)
})

async function track<T extends { close(): Promise<void> }>(adapter: Promise<T>): Promise<T> {
  const opened = await adapter
  open.push(opened)
  return opened
}

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(StorageError)
  return error as StorageError
}

describe('capabilities', () => {
  it('reports FTS4 (sql.js has no FTS5), JSON, RETURNING and a single connection', async () => {
    const db = await track(createSqlJsAdapter())
    expect(db.kind).toBe('sqljs')
    expect(db.dialect).toBe('sqlite')
    expect(db.capabilities).toEqual({
      fts: 'fts4',
      json: true,
      returning: true,
      savepoints: true,
      lastInsertRowid: true,
      concurrency: 'single',
      persistence: 'memory',
    })
  })

  it('has a working FTS4 module and no FTS5 module', async () => {
    const db = await track(createSqlJsAdapter())
    await db.exec(
      `CREATE VIRTUAL TABLE docs USING fts4(body); INSERT INTO docs VALUES ('the quick brown fox')`,
    )
    expect(await db.all(`SELECT body FROM docs WHERE docs MATCH 'quick'`)).toEqual([
      { body: 'the quick brown fox' },
    ])
    await expect(db.exec('CREATE VIRTUAL TABLE five USING fts5(body)')).rejects.toThrow(
      /no such module: fts5/,
    )
    expect(await db.get(`SELECT json_extract('{"a":[1,2]}', '$.a[1]') AS v`)).toEqual({ v: 2 })
  })

  it('reports file persistence for a file, and the persistence and kind it is told to', async () => {
    const file = await track(createSqlJsAdapter({ filename: join(folder, 'caps.sqlite') }))
    expect(file.capabilities.persistence).toBe('file')
    const browser = await track(
      createSqlJsAdapter({ persist: () => undefined, persistence: 'browser', kind: 'indexeddb' }),
    )
    expect(browser.capabilities.persistence).toBe('browser')
    expect(browser.kind).toBe('indexeddb')
  })
})

describe('opening', () => {
  it('refuses a file name with NUL or a lone surrogate before creating anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-sqljs-names-'))
    try {
      for (const name of ['cut\u0000here.sqlite', 'half\uD800.sqlite']) {
        await expect(createSqlJsAdapter({ filename: join(dir, name) })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        })
      }
      expect(readdirSync(dir)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('is what createDatabase opens for type sqljs', async () => {
    registerDriver(driver)
    const filename = join(folder, 'registry.sqlite')
    const db = await track(createDatabase({ type: 'sqljs', filename }))
    expect(db.kind).toBe('sqljs')
    await db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)')
    await db.close()
    const again = await track(createDatabase({ type: 'sqljs', filename }))
    expect(await again.get('SELECT x FROM t')).toEqual({ x: 42 })
  })

  it('uses a sql.js module it is given', async () => {
    const SQL = (await initSqlJs()) as unknown as SqlJsStatic
    const db = await track(createSqlJsAdapter({ sqlJs: SQL }))
    expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 })
  })

  it('keeps working with a sql.js that closes and reopens the database in export(), as before 1.16', async () => {
    const SQL = await initSqlJs()
    // Mimics sql.js < 1.16: export() frees every prepared statement and resets PRAGMAs.
    class ReopeningDatabase extends SQL.Database {
      readonly #prepared: initSqlJs.Statement[] = []
      override prepare(sql: string, params?: initSqlJs.BindParams): initSqlJs.Statement {
        const statement = super.prepare(sql, params)
        this.#prepared.push(statement)
        return statement
      }
      override export(): Uint8Array {
        const image = super.export()
        for (const statement of this.#prepared.splice(0)) statement.free()
        this.run('PRAGMA foreign_keys = OFF')
        return image
      }
    }
    const images: Uint8Array[] = []
    const db = await track(
      createSqlJsAdapter({
        sqlJs: { Database: ReopeningDatabase } as unknown as SqlJsStatic,
        persist: (image) => void images.push(image),
      }),
    )
    await db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))',
    )
    for (let id = 1; id <= 3; id++) await db.run('INSERT INTO parent VALUES (?)', [id])
    await expect(db.run('INSERT INTO child VALUES (99)')).rejects.toMatchObject({
      code: 'FOREIGN_KEY_VIOLATION',
    })
    expect(images).toHaveLength(4)
  })

  it('starts from an image, including one whose header says WAL mode', async () => {
    const source = await track(createSqlJsAdapter())
    await source.exec(`CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('from the image')`)
    const image = await source.export()
    const wal = image.slice()
    wal[18] = 2
    wal[19] = 2
    for (const data of [image, wal]) {
      const db = await track(createSqlJsAdapter({ data }))
      expect(await db.all('SELECT x FROM t')).toEqual([{ x: 'from the image' }])
    }
    // The caller's buffer is copied, not adopted.
    expect(wal[18]).toBe(2)
  })

  it('rejects contradictory or malformed options with INVALID_ARGUMENT', async () => {
    const filename = join(folder, 'options.sqlite')
    const cases = [
      { filename, persist: () => undefined },
      { filename, data: new Uint8Array(0) },
      { data: new TextEncoder().encode('x'.repeat(200)) },
      { persistence: 'cloud' as never },
      { filename: 42 as never },
      { persist: 'yes' as never },
      { foreignKeys: 'false' as never },
    ]
    for (const options of cases) {
      const error = await rejection(createSqlJsAdapter(options))
      expect(error.code).toBe('INVALID_ARGUMENT')
    }
  })

  it('refuses to open a file that is not a SQLite database, naming it', async () => {
    const { writeFileSync } = await import('node:fs')
    const filename = join(folder, 'not-a-db.sqlite')
    writeFileSync(filename, 'hello, this is a text file and not a database at all'.repeat(5))
    const error = await rejection(createSqlJsAdapter({ filename }))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain(filename)
  })
})

describe('statements', () => {
  let db: SqlJsAdapter

  it('binds a bigint that fits a double as an integer', async () => {
    db = await track(createSqlJsAdapter())
    expect(await db.get('SELECT typeof(?) AS t, ? AS v', [5n, 5n])).toEqual({ t: 'integer', v: 5 })
  })

  it('reads integers beyond 2^53 in computed columns exactly', async () => {
    db = await track(createSqlJsAdapter())
    expect(await db.get('SELECT 9223372036854775807 AS max, 1.5e300 AS big_real, 3 AS small')).toEqual({
      max: 2n ** 63n - 1n,
      big_real: 1.5e300,
      small: 3,
    })
  })

  it('reports 0 changes for DDL after a write that changed rows', async () => {
    db = await track(createSqlJsAdapter())
    await db.exec('CREATE TABLE t (x INTEGER)')
    expect((await db.run('INSERT INTO t VALUES (1), (2)')).changes).toBe(2)
    expect((await db.run('CREATE TABLE u (y INTEGER)')).changes).toBe(0)
    expect((await db.run('SELECT * FROM t')).changes).toBe(0)
  })

  it('reports SQL with no statement in it as a clear error', async () => {
    db = await track(createSqlJsAdapter())
    const error = await rejection(db.get('-- only a comment'))
    expect(error.message).toMatch(/no statement/)
  })

  it('keeps working when more statements are used than the cache holds', async () => {
    db = await track(createSqlJsAdapter({ statementCacheSize: 2 }))
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) expect(await db.get(`SELECT ${i} AS v`)).toEqual({ v: i })
    }
  })

  it('fails calls made after close() starts with CLOSED, and lets earlier ones finish', async () => {
    db = await createSqlJsAdapter({ persist: () => undefined })
    const queued = db.get('SELECT 1 AS one')
    const closing = db.close()
    await expect(db.export()).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(db.flush()).rejects.toMatchObject({ code: 'CLOSED' })
    await expect(db.run('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' })
    expect(await queued).toEqual({ one: 1 })
    await closing
  })
})
