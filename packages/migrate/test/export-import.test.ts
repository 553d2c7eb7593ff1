import { readFileSync, writeFileSync } from 'node:fs'
import type { StorageAdapter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkParity, exportDatabase, importDatabase } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_io')
afterAll(() => env.cleanup())

// Text of every kind: quotes and escapes, line ends (JSON's own and U+2028/9), combining marks,
// emoji sequences, right-to-left, a byte-order mark, the empty string (which is not NULL), long text.
const TEXTS = [
  `plain`,
  `it's "quoted" \`back\` \\slash\\ {braces} [brackets]`,
  'line\nbreak\r\nwindows\ttab',
  'separators\u2028and\u2029',
  'cafe\u0301 café 漢字 한국어',
  '🍞👩‍👩‍👧🏳️‍🌈',
  'שלום مرحبا',
  '\uFEFFbom',
  '',
  'x'.repeat(100_000),
]
const BIGS = [0n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)]
const BLOBS = [
  new Uint8Array(0),
  Uint8Array.from({ length: 256 }, (_, i) => i),
  new Uint8Array(1 << 20).fill(7),
]

/** A database with every value kind the format must keep exactly, in tables with each kind of key. */
async function fill(db: StorageAdapter): Promise<void> {
  const pg = db.dialect === 'postgres'
  await db.exec(`
    CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL);
    CREATE TABLE files (owner TEXT NOT NULL, n INTEGER NOT NULL, data ${pg ? 'BYTEA' : 'BLOB'}, PRIMARY KEY (owner, n));
    CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT);
    CREATE TABLE events (at BIGINT, kind TEXT);
    CREATE INDEX events_by_kind ON events (kind, at DESC);
  `)
  for (const [i, text] of TEXTS.entries()) {
    await db.run('INSERT INTO notes (id, body, score) VALUES (?, ?, ?)', [i * 1000 + 1, text, i / 7])
  }
  await db.run('INSERT INTO notes (id, body, score) VALUES (?, ?, ?)', [2 ** 52, null, null])
  await db.run('INSERT INTO notes (id, body, score) VALUES (?, ?, ?)', [-5, 'negative key', -1e-308])
  await db.run('INSERT INTO notes (id, body, score) VALUES (?, ?, ?)', [
    7,
    'big float',
    1.7976931348623157e308,
  ])
  for (const [i, data] of BLOBS.entries()) {
    await db.run('INSERT INTO files (owner, n, data) VALUES (?, ?, ?)', ['ädä', i, data])
    await db.run('INSERT INTO files (owner, n, data) VALUES (?, ?, ?)', ['bob', i, i === 1 ? null : data])
  }
  for (const [i, value] of BIGS.entries()) {
    await db.run('INSERT INTO counters (name, value) VALUES (?, ?)', [`c${i}`, value])
  }
  await db.run('INSERT INTO counters (name, value) VALUES (?, ?)', ['nothing', null])
  // A table without a key holds the same row twice; both copies must arrive, once each.
  for (const row of [
    [1, 'a'],
    [1, 'a'],
    [2, null],
    [null, 'b'],
  ]) {
    await db.run('INSERT INTO events (at, kind) VALUES (?, ?)', row)
  }
}

async function exportText(db: StorageAdapter, batchSize = 3): Promise<string> {
  let text = ''
  for await (const chunk of exportDatabase(db, { batchSize })) text += chunk
  return text
}

async function expectSameValues(a: StorageAdapter, b: StorageAdapter): Promise<void> {
  const pick = async (db: StorageAdapter) => ({
    notes: await db.all('SELECT id, body, score FROM notes ORDER BY id'),
    // Blobs as base64: comparing megabytes element by element would take the test's whole budget.
    files: (
      await db.all<{ owner: string; n: number; data: Uint8Array | null }>(
        'SELECT owner, n, data FROM files ORDER BY owner, n',
      )
    ).map((r) => ({
      ...r,
      data: r.data === null ? null : `${r.data.constructor.name}:${Buffer.from(r.data).toString('base64')}`,
    })),
    counters: await db.all('SELECT name, value FROM counters ORDER BY name'),
    events: (await db.all<{ at: unknown; kind: unknown }>('SELECT at, kind FROM events'))
      .map((r) => JSON.stringify([r.at, r.kind]))
      .sort(),
  })
  expect(await pick(b)).toEqual(await pick(a))
}

describe('export and import', () => {
  let sqlite: StorageAdapter
  let text: string

  beforeAll(async () => {
    sqlite = env.sqlite(env.file())
    await fill(sqlite)
    text = await exportText(sqlite)
  })

  it('writes a header, each table in key order between its start and end lines, and a last line', () => {
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines[0]).toMatchObject({ format: 'engram-export', version: 1, dialect: 'sqlite' })
    expect(lines[0].tables.map((t: { name: string }) => t.name)).toEqual([
      'counters',
      'events',
      'files',
      'notes',
    ])
    const files = lines[0].tables.find((t: { name: string }) => t.name === 'files')
    expect(files).toMatchObject({ primaryKey: ['owner', 'n'], order: 'key' })
    const events = lines[0].tables.find((t: { name: string }) => t.name === 'events')
    expect(events).toMatchObject({ primaryKey: [], order: 'rowid' })
    expect(events.indexes[0]).toMatchObject({
      name: 'events_by_kind',
      columns: [
        { name: 'kind', descending: false },
        { name: 'at', descending: true },
      ],
    })
    const start = lines.findIndex((l) => l.table === 'notes')
    const ids = lines
      .slice(start + 1)
      .filter(Array.isArray)
      .map((row: unknown[]) => row[0])
    expect(ids.slice(0, 3)).toEqual([-5, 1, 7])
    expect(lines.at(-1)).toEqual({ complete: true, tables: 4, rows: 13 + 6 + 8 + 4 })
  })

  it('keeps bigints beyond 2^53, blobs and NULLs as tagged values', () => {
    expect(text).toContain('{"$int":"9007199254740993"}')
    expect(text).toContain('{"$int":"-9223372036854775808"}')
    expect(text).toContain('{"$bytes":""}')
    expect(text).toContain('["bob",1,null]')
  })

  it('round-trips every value, key and duplicate row into a new SQLite database', async () => {
    const copy = env.sqlite(env.file())
    const result = await importDatabase(copy, [text], { batchSize: 2 })
    expect(result.rows).toBe(31)
    await expectSameValues(sqlite, copy)
    expect((await checkParity(sqlite, copy)).equal).toBe(true)
    const counters = await copy.all<{ value: unknown }>('SELECT value FROM counters ORDER BY name')
    expect(counters.map((r) => r.value)).toEqual([
      0,
      -1,
      2 ** 53 - 1,
      2n ** 53n,
      2n ** 53n + 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      null,
    ])
    expect(
      await copy.all("SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'events_by_kind'"),
    ).toHaveLength(1)
  })

  it('round-trips into PostgreSQL with translated types, and back into SQLite', async () => {
    const { name } = await env.schema()
    const pg = env.postgres(name)
    await importDatabase(pg, [text])
    await expectSameValues(sqlite, pg)
    expect((await checkParity(sqlite, pg)).equal).toBe(true)
    const types = await pg.all<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = 'files' ORDER BY ordinal_position`,
      [name],
    )
    expect(types.map((t) => t.data_type)).toEqual(['text', 'bigint', 'bytea'])

    const back = env.sqlite(env.file())
    await importDatabase(back, [await exportText(pg, 4)])
    await expectSameValues(sqlite, back)
    expect((await checkParity(pg, back)).equal).toBe(true)
  })

  it('adds nothing when the same export is imported again', async () => {
    const copy = env.sqlite(env.file())
    await importDatabase(copy, [text])
    const again = await importDatabase(copy, [text])
    expect(again.rows).toBe(0)
    expect(again.tables.every((t) => t.status === 'already-done')).toBe(true)
    expect(await copy.get('SELECT COUNT(*) AS n FROM events')).toEqual({ n: 4 })
  })

  it('reads chunks split anywhere, even inside a character', async () => {
    const bytes = new TextEncoder().encode(text)
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7777) }, (_, i) =>
      bytes.subarray(i * 7777, (i + 1) * 7777),
    )
    const copy = env.sqlite(env.file())
    await importDatabase(copy, chunks)
    expect((await checkParity(sqlite, copy)).equal).toBe(true)
  })

  it('reports a file cut short, and finishes when the whole file is imported after it', async () => {
    const copy = env.sqlite(env.file())
    const cut = text.slice(0, text.indexOf('{"end":"files"'))
    await expect(importDatabase(copy, [cut], { batchSize: 1 })).rejects.toThrow(/cut short/)
    const counted = await copy.get<{ n: number }>('SELECT COUNT(*) AS n FROM files')
    expect(counted?.n).toBeGreaterThan(0)
    await importDatabase(copy, [text], { batchSize: 1 })
    expect((await checkParity(sqlite, copy)).equal).toBe(true)
  })

  it('reports a changed value as damage, by the table checksum', async () => {
    const copy = env.sqlite(env.file())
    const changed = text.replace('"negative key"', '"negative kez"')
    await expect(importDatabase(copy, [changed])).rejects.toThrow(
      /damaged: notes has 13 rows where its end line says 13, or their checksum differs/,
    )
  })

  it('refuses text holding U+0000 for PostgreSQL with UNSUPPORTED, naming the column', async () => {
    const source = env.sqlite(env.file())
    await source.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)')
    await source.run('INSERT INTO t VALUES (1, ?)', ['nul\u0000inside'])
    const exported = await exportText(source)
    const { name } = await env.schema()
    await expect(importDatabase(env.postgres(name), [exported])).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('t.body (the row id = "1") holds the character U+0000'),
    })
    const copy = env.sqlite(env.file())
    await importDatabase(copy, [exported])
    expect(await copy.get('SELECT body FROM t')).toEqual({ body: 'nul\u0000inside' })
  })

  it('rejects what is not an engram export, and a newer format version', async () => {
    const copy = env.sqlite(env.file())
    await expect(importDatabase(copy, ['{"hello":1}\n'])).rejects.toThrow(/not an engram export/)
    const newer = text.replace('"version":1', '"version":2')
    await expect(importDatabase(copy, [newer])).rejects.toMatchObject({ code: 'UNSUPPORTED' })
  })

  it('writes a file that a Node stream reads back', async () => {
    const path = `${env.file('export.jsonl')}`
    writeFileSync(path, text)
    const copy = env.sqlite(env.file())
    const { createReadStream } = await import('node:fs')
    await importDatabase(copy, createReadStream(path))
    expect(readFileSync(path, 'utf8')).toBe(text)
    expect((await checkParity(sqlite, copy)).equal).toBe(true)
  })
})
