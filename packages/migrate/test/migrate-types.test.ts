import { isStorageError } from '@engram/core'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, describe, expect, it } from 'vitest'
import { CHECKPOINT_TABLE, migrate, verifyMigration } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_types')
afterAll(() => env.cleanup())

describe('type translation between SQLite and PostgreSQL', () => {
  it('translates booleans, JSON, timestamps as text and constant defaults, and verifies', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    await sqlite.exec(`CREATE TABLE flags (
      id INTEGER PRIMARY KEY,
      on_off BOOLEAN NOT NULL DEFAULT 0,
      doc JSON,
      seen DATETIME DEFAULT CURRENT_TIMESTAMP,
      label VARCHAR(20) DEFAULT 'none',
      weight DOUBLE DEFAULT -1.5
    )`)
    await sqlite.run('INSERT INTO flags (id, on_off, doc, seen) VALUES (?, ?, ?, ?)', [
      1,
      true,
      '{"b": 1, "a": [1, 2]}',
      '2026-01-02 03:04:05',
    ])
    await sqlite.run('INSERT INTO flags (id, on_off, doc) VALUES (?, ?, ?)', [2, false, '7'])
    const { name, url } = await env.schema()
    const result = await migrate({ from: path, to: url, verify: true })
    expect(result.verified).toBe(true)
    const pg = env.postgres(name)
    expect(await pg.all('SELECT id, on_off, doc, seen, label, weight FROM flags ORDER BY id')).toEqual([
      {
        id: 1,
        on_off: true,
        doc: { a: [1, 2], b: 1 },
        seen: '2026-01-02 03:04:05',
        label: 'none',
        weight: -1.5,
      },
      {
        id: 2,
        on_off: false,
        doc: 7,
        seen: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
        label: 'none',
        weight: -1.5,
      },
    ])
    const types = await pg.all<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = 'flags' ORDER BY ordinal_position`,
      [name],
    )
    expect(types.map((t) => t.data_type)).toEqual([
      'bigint',
      'boolean',
      'jsonb',
      'text',
      'text',
      'double precision',
    ])
    // The translated defaults produce what SQLite's would: CURRENT_TIMESTAMP as SQLite prints it.
    await pg.run('INSERT INTO flags (id) VALUES (3)')
    expect(await pg.get('SELECT on_off, label FROM flags WHERE id = 3')).toEqual({
      on_off: false,
      label: 'none',
    })
    expect((await pg.get<{ seen: string }>('SELECT seen FROM flags WHERE id = 3'))?.seen).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    )
  })

  it('copies integers beyond 2^53, reals to the last bit, text and blobs exactly, page after page', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    await sqlite.exec(
      'CREATE TABLE nums (id INTEGER PRIMARY KEY, big INTEGER, x REAL, t TEXT); CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)',
    )
    const rows: Array<[number, bigint | number, number, string]> = []
    for (let i = 1; i <= 40; i++) {
      rows.push([
        i,
        i % 7 === 0 ? 2n ** 60n + BigInt(i) : i * 1000,
        0.1 * i + 0.2,
        `"quote" \\ ${'é'.repeat(i % 3)} \t tab`,
      ])
    }
    for (const row of rows) await sqlite.run('INSERT INTO nums VALUES (?, ?, ?, ?)', row)
    for (let i = 1; i <= 12; i++)
      await sqlite.run('INSERT INTO blobs VALUES (?, ?)', [
        i,
        i % 4 === 0 ? null : new Uint8Array([i, 0, 255]),
      ])
    const target = env.file()
    const result = await migrate({ from: path, to: target, batchSize: 5, verify: true })
    expect(result.verified).toBe(true)
    const copy = env.sqlite(target)
    expect(await copy.all('SELECT id, big, x, t FROM nums ORDER BY id')).toEqual(
      rows.map(([id, big, x, t]) => ({ id, big, x, t })),
    )
    expect((await copy.get<{ b: Uint8Array }>('SELECT b FROM blobs WHERE id = 5'))?.b).toEqual(
      new Uint8Array([5, 0, 255]),
    )
    const { name, url } = await env.schema()
    const pg = await migrate({ from: path, to: url, batchSize: 5, verify: true })
    expect(pg.verified).toBe(true)
    const copied = await env
      .postgres(name)
      .all<{ big: unknown; x: number }>('SELECT big, x FROM nums ORDER BY id')
    expect(copied.map((r) => r.big)).toEqual(rows.map(([, big]) => big))
    expect(copied.map((r) => r.x)).toEqual(rows.map(([, , x]) => x))
  })

  it('says UNSUPPORTED for an untyped column before writing anything, and columnTypes resolves it', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    await sqlite.exec('CREATE TABLE loose (id INTEGER PRIMARY KEY, anything)')
    await sqlite.run('INSERT INTO loose VALUES (1, ?)', ['text'])
    const { name, url } = await env.schema()
    const dry = await migrate({ from: path, to: url, dryRun: true })
    expect(dry.problems).toEqual([
      expect.stringContaining('loose.anything is untyped, which has no postgres translation'),
    ])
    const error = await migrate({ from: path, to: url }).catch((e: unknown) => e)
    expect(isStorageError(error, 'UNSUPPORTED')).toBe(true)
    expect((error as Error).message).toContain("columnTypes { 'loose.anything': '<type>' }")
    expect(await env.tablesIn(name)).toEqual([])
    const fixed = await migrate({
      from: path,
      to: url,
      columnTypes: { 'loose.anything': 'TEXT' },
      verify: true,
    })
    expect(fixed.verified).toBe(true)
  })

  it('finds a value its Postgres column cannot hold: a dry run lists it, a real run stops at it and resumes after the fix', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    await sqlite.exec('CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER, ratio REAL)')
    await sqlite.run("INSERT INTO counts VALUES ('fine', 1, 0.5), ('broken', 'many', 0.25), ('half', 1.5, 1)")
    const { name, url } = await env.schema()
    const dry = await migrate({ from: path, to: url, dryRun: true })
    expect(dry.problems).toEqual([
      expect.stringMatching(
        /^counts\.n: 2 rows hold a value its Postgres integer column cannot store exactly \(first: name = "broken" holds the text "many"\)/,
      ),
    ])
    expect(await env.tablesIn(name)).toEqual([])
    const error = await migrate({ from: path, to: url, batchSize: 1 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'UNSUPPORTED' })
    expect((error as Error).message).toMatch(
      /^counts\.n \(the row name = "broken"\) holds the text "many", which an integer column cannot hold exactly/,
    )
    await sqlite.run("UPDATE counts SET n = 2 WHERE name IN ('broken', 'half')")
    const fixed = await migrate({ from: path, to: url, resume: true, verify: true })
    expect(fixed.verified).toBe(true)
    expect(await env.postgres(name).all('SELECT name, n FROM counts ORDER BY name')).toEqual([
      { name: 'broken', n: 2 },
      { name: 'fine', n: 1 },
      { name: 'half', n: 2 },
    ])
  })

  it('moves Postgres numerics, timestamps, JSONB and uuids to SQLite as exact text, and refuses arrays', async () => {
    const { name, url } = await env.schema()
    const pg = env.postgres(name)
    await pg.exec(`CREATE TABLE ledger (
      id uuid PRIMARY KEY,
      amount numeric(30, 10) NOT NULL,
      at timestamptz NOT NULL,
      meta jsonb,
      paid boolean DEFAULT false,
      tiny smallint
    )`)
    await pg.run('INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?)', [
      '8c7d4a3e-3f6b-4a51-9a8e-0f8e2c1b7d11',
      '12345678901234567890.0123456789',
      '2026-03-04 05:06:07.123456+00',
      '{"z": 1, "a": "ü"}',
      true,
      -3,
    ])
    const path = env.file()
    const result = await migrate({ from: url, to: path, verify: true })
    expect(result.verified).toBe(true)
    const sqlite = env.sqlite(path)
    expect(await sqlite.get('SELECT * FROM ledger')).toEqual({
      id: '8c7d4a3e-3f6b-4a51-9a8e-0f8e2c1b7d11',
      amount: '12345678901234567890.0123456789',
      at: '2026-03-04 05:06:07.123456+00',
      meta: '{"a": "ü", "z": 1}',
      paid: 1,
      tiny: -3,
    })
    await pg.exec('CREATE TABLE listy (id int PRIMARY KEY, tags text[])')
    const dry = await migrate({ from: url, to: env.file(), tables: ['listy'], dryRun: true })
    expect(dry.problems).toEqual([
      expect.stringContaining('listy.tags is text[], which has no sqlite translation'),
    ])
  })

  it('names unknown tables, and refuses the vector engine’s own tables', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    await sqlite.exec('CREATE TABLE a (id INTEGER PRIMARY KEY)')
    await createSqliteVectorStore({ adapter: sqlite }).createCollection('docs', { dimension: 3 })
    await expect(migrate({ from: path, to: env.file(), tables: ['b'] })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'There is no table b in the source; it has a',
    })
    await expect(migrate({ from: path, to: env.file(), tables: ['engram_vec_1'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await expect(migrate({ from: env.file('missing.db'), to: env.file() })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })
})

describe('vector collections between stores', () => {
  it('moves collections SQLite to SQLite, and verification finds a vector changed afterwards', async () => {
    const path = env.file()
    const sqlite = env.sqlite(path)
    const store = createSqliteVectorStore({ adapter: sqlite })
    await store.createCollection('docs', { dimension: 4, metric: 'euclidean' })
    await store.upsert('docs', [
      { id: 'a', vector: [0.1, 0.2, 0.3, 0.4], metadata: { kind: 'x' }, text: 'alpha' },
      { id: 'b', vector: [Math.fround(1 / 3), -0, 1e-30, 3.4e38] },
    ])
    const target = env.file()
    const result = await migrate({ from: path, to: target, verify: true })
    expect(result.verified).toBe(true)
    expect(result.collections).toEqual([{ name: 'docs', sourceRows: 2, copied: 2, status: 'copied' }])
    const copy = createSqliteVectorStore({ adapter: env.sqlite(target) })
    expect(await copy.describeCollection('docs')).toEqual({
      name: 'docs',
      dimension: 4,
      metric: 'euclidean',
      count: 2,
    })
    await copy.upsert('docs', [{ id: 'b', vector: [Math.fround(1 / 3), 0, 1e-30, 3.4e38] }])
    const check = await verifyMigration({ from: path, to: target })
    expect(check.verified).toBe(false)
    expect(check.mismatches).toEqual([
      {
        kind: 'collection',
        name: 'docs',
        message: 'docs: 0 records missing from the target and 1 that differ (for example "b")',
      },
    ])
  })

  it('refuses a target collection of another dimension, before writing anything', async () => {
    const path = env.file()
    const store = createSqliteVectorStore({ adapter: env.sqlite(path) })
    await store.createCollection('docs', { dimension: 4 })
    await store.upsert('docs', [{ id: 'a', vector: [1, 2, 3, 4] }])
    const target = env.file()
    const other = env.sqlite(target)
    await createSqliteVectorStore({ adapter: other }).createCollection('docs', { dimension: 8 })
    await expect(migrate({ from: path, to: target })).rejects.toThrow(
      /collection docs is 8-dimension cosine, the source's 4-dimension cosine/,
    )
    expect(await other.all(`SELECT name FROM sqlite_schema WHERE name = '${CHECKPOINT_TABLE}'`)).toEqual([])
  })
})
