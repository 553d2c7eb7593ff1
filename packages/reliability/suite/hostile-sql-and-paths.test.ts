import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isWellFormed, type StorageAdapter, StorageError } from '@engram/core'
import { Memory } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { createSqlJsAdapter } from '@engram/sqljs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures } from '../src/figures.js'
import { attempt, HOSTILE_NUMBERS, HOSTILE_STRINGS, shown, Tally } from '../src/hostile-values.js'
import { PG_URL, requirePostgres } from '../src/pg-env.js'

// The hostile corpus as bound SQL values on every driver, and as file names wherever engram
// takes a path (a SQLite file for sqlite-native, sql.js and Memory, and the ANN index files
// named after it).
const FILE = 'hostile-sql-and-paths'
const folder = mkdtempSync(join(tmpdir(), 'engram-paths-'))
let postgres: StorageAdapter

beforeAll(async () => {
  await requirePostgres()
  postgres = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
})

afterAll(async () => {
  await postgres?.close()
  rmSync(folder, { recursive: true, force: true })
})

const DRIVERS: ReadonlyArray<[string, () => Promise<StorageAdapter>, string, string]> = [
  [
    'sqlite-native',
    async () => createSqliteNativeAdapter({ filename: ':memory:' }),
    'SELECT ? AS v',
    'SELECT ? AS v',
  ],
  ['sqljs', () => createSqlJsAdapter(), 'SELECT ? AS v', 'SELECT ? AS v'],
  ['postgres', async () => postgres, 'SELECT ?::text AS v', 'SELECT ?::float8 AS v'],
]

describe('bound SQL values', () => {
  for (const [name, open, text, number] of DRIVERS) {
    it(`${name}: well-formed hostile strings and edge numbers round-trip exactly, and nothing throws anything but a StorageError`, async () => {
      const db = await open()
      const changed: string[] = []
      const refused: string[] = []
      try {
        for (const [label, value] of HOSTILE_STRINGS) {
          const outcome = await attempt(`bound ${label}`, () => db.get<{ v: unknown }>(text, [value]), [
            'INVALID_ARGUMENT',
            'QUERY_FAILED',
          ])
          if (isWellFormed(value)) {
            expect(outcome.ok, `${label} (${shown(value)})`).toBe(true)
            if (outcome.ok) expect(outcome.value?.v, `${label} (${shown(value)})`).toBe(value)
          } else if (!outcome.ok) {
            refused.push(`${label}: ${outcome.error.code}`)
          } else if (outcome.value?.v !== value) {
            changed.push(label)
          }
        }
        for (const [label, value] of HOSTILE_NUMBERS) {
          const outcome = await attempt(`bound ${label}`, () => db.get<{ v: unknown }>(number, [value]))
          if (Number.isNaN(value)) expect(outcome.ok, label).toBe(false)
          else if (outcome.ok)
            expect(outcome.value?.v === value || Number.isNaN(outcome.value?.v), label).toBe(true)
        }
      } finally {
        if (db !== postgres) await db.close()
      }
      // Not promised on raw SQL (the stores and the memory layer refuse such strings): recorded.
      printFigures(FILE, `${name} bound values`, {
        wellFormedExact: HOSTILE_STRINGS.filter(([, v]) => isWellFormed(v)).length,
        notWellFormedChanged: changed.join(', ') || 'none',
        notWellFormedRefused: refused.join(', ') || 'none',
      })
    })
  }
})

describe('file names', () => {
  it('every hostile file name opens a working database or is refused with INVALID_ARGUMENT, and never lands outside the folder asked for', async () => {
    const tally = new Tally()
    const problems: string[] = []
    const allowed = ['INVALID_ARGUMENT', 'CONNECTION_FAILED'] as const
    /** Runs one open-write-read cycle, collecting what went wrong instead of stopping at the first. */
    const check = async (what: string, cycle: () => Promise<unknown>, expected: unknown): Promise<void> => {
      try {
        const outcome = tally.add(await attempt(what, cycle, allowed))
        if (outcome.ok && JSON.stringify(outcome.value) !== JSON.stringify(expected)) {
          problems.push(`${what}: read back ${JSON.stringify(outcome.value)}`)
        }
      } catch (error) {
        problems.push((error as Error).message.split('\n')[0] as string)
      }
    }
    for (const [label, value] of HOSTILE_STRINGS) {
      // Nested two levels down, so a traversal of '../..' still stays inside the test's folder.
      const path = join(folder, label.replace(/\W+/g, '-'), 'a', 'b', `${value}.db`)
      await check(
        `sqlite-native file ${label}`,
        async () => {
          const db = createSqliteNativeAdapter({ filename: path })
          try {
            await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)')
            return await db.get<{ x: number }>('SELECT x FROM t')
          } finally {
            await db.close()
          }
        },
        { x: 1 },
      )
      await check(
        `sqljs file ${label}`,
        async () => {
          const db = await createSqlJsAdapter({ filename: `${path}.sqljs` })
          try {
            await db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (2)')
          } finally {
            await db.close()
          }
          const again = await createSqlJsAdapter({ filename: `${path}.sqljs` })
          try {
            return await again.get<{ x: number }>('SELECT x FROM t')
          } finally {
            await again.close()
          }
        },
        { x: 2 },
      )
      await check(
        `Memory file ${label}`,
        async () => {
          const opened = await Memory.open({ path: `${path}.memory`, exactBelow: 2 })
          try {
            const trace = await opened.remember('a note in an oddly named file')
            await opened.remember('another note')
            await opened.remember('a third note')
            return (await opened.recall('oddly named', { mode: 'vector', topK: 1 }))[0]?.trace.id === trace.id
          } finally {
            await opened.close()
          }
        },
        true,
      )
    }
    // Nothing was created next to the test's folder by a traversal.
    expect(
      readdirSync(join(folder, '..')).filter((name) => name.startsWith('etc') || name.endsWith('.db')),
    ).toEqual([])
    // The ANN index files are named after the database and the collection; both at their longest still fit.
    const long = join(folder, `${'d'.repeat(200)}.db`)
    const adapter = createSqliteNativeAdapter({ filename: long })
    const store = createSqliteVectorStore({ adapter, ann: { path: long }, exactBelow: 2 })
    try {
      const collection = `c${'x'.repeat(62)}`
      await store.createCollection(collection, { dimension: 2 })
      await store.upsert(
        collection,
        [1, 2, 3, 4].map((i) => ({ id: `r${i}`, vector: [i, 1] })),
      )
      expect((await store.query(collection, { vector: [1, 1], topK: 4 })).map((m) => m.id).sort()).toEqual([
        'r1',
        'r2',
        'r3',
        'r4',
      ])
      expect((await store.annStatus(collection)).open).toBe(true)
    } finally {
      await store.close()
      await adapter.close()
    }
    printFigures(FILE, 'file names', {
      opened: tally.accepted,
      refused: tally.refused,
      problems: problems.length,
    })
    expect(problems).toEqual([])
  })

  it('a path that cannot name a file as given (NUL, a lone surrogate) is refused with a StorageError before any file is made', async () => {
    mkdirSync(join(folder, 'unnameable'), { recursive: true })
    for (const name of ['a\u0000b.db', 'T\uD800.db']) {
      const path = join(folder, 'unnameable', name)
      const error = await createSqlJsAdapter({ filename: path }).then(
        () => undefined,
        (e: unknown) => e,
      )
      const native = (() => {
        try {
          createSqliteNativeAdapter({ filename: path })
        } catch (e) {
          return e
        }
        return undefined
      })()
      for (const [driver, refused] of [
        ['sqljs', error],
        ['sqlite-native', native],
      ] as const) {
        expect(refused, `${driver} ${shown(name)} must be refused`).toBeInstanceOf(StorageError)
        expect(
          ['INVALID_ARGUMENT', 'CONNECTION_FAILED'],
          `${driver} ${shown(name)}: ${(refused as Error).message}`,
        ).toContain((refused as StorageError).code)
      }
    }
    // Refused before anything was created: no truncated or re-encoded file was left behind.
    expect(
      readdirSync(join(folder, 'unnameable'), { withFileTypes: true }).filter((e) => e.isFile()),
    ).toEqual([])
  })
})
