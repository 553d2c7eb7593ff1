import { type StorageAdapter, StorageError } from '@engram/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type DialectSql,
  dialectSql,
  expectStorageError,
  rejectionOf,
  sleep,
  uniqueName,
} from './storage-fixtures.js'

/** The switchable groups of the storage suite. */
export type StorageSuiteGroup =
  | 'basics'
  | 'parameters'
  | 'transactions'
  | 'errors'
  | 'streaming'
  | 'persistence'

/** How the persistence group reopens a database at the same location. */
export interface PersistenceHooks {
  /** A fresh location (a file path, a database name, a key) that nothing uses yet. */
  newLocation(): string | Promise<string>
  /** Opens an adapter at `location`. */
  open(location: string): Promise<StorageAdapter>
  /** Whether something now exists at `location` (used by the in-memory check). */
  exists?(location: string): boolean | Promise<boolean>
  /** The location that means "in memory, keep nothing" (`':memory:'` for SQLite). */
  memoryLocation?: string
}

/** Options for `describeStorageAdapter`. */
export interface StorageSuiteOptions {
  /** Turn groups off with `false`. All are on by default. */
  groups?: Partial<Record<StorageSuiteGroup, boolean>>
  /** Hooks for the persistence group; it is skipped without them. */
  persistence?: PersistenceHooks
  /** Rows the bounded-memory streaming test reads. Default is `200_000` (about 200 MB if held at once). */
  streamRows?: number
  /** Runs after each test, after the adapter is closed. */
  cleanup?: () => Promise<void>
  /**
   * Whether integers beyond 2^53 read back exactly. Drivers behind a JSON bridge (Capacitor)
   * set `false`: they must still store such integers exactly, but the read-back is not checked.
   * Default is `true`.
   */
  exactLargeIntegers?: boolean
}

/** One test's adapter plus helpers that make tables with unique names and drop them afterwards. */
interface Context {
  db: StorageAdapter
  sql: DialectSql
  table(columns: string): Promise<string>
}

/**
 * Registers the storage conformance suite for a driver with vitest. `open` returns a fresh
 * adapter for each test; the suite closes it.
 *
 * @example
 * describeStorageAdapter('sqlite-native', async () => createSqliteNativeAdapter({ filename: ':memory:' }))
 */
export function describeStorageAdapter(
  name: string,
  open: () => Promise<StorageAdapter>,
  options: StorageSuiteOptions = {},
): void {
  const enabled = (group: StorageSuiteGroup): boolean => options.groups?.[group] !== false

  describe(`StorageAdapter conformance: ${name}`, () => {
    let ctx: Context
    let tables: string[] = []
    let extra: StorageAdapter[] = []

    beforeEach(async () => {
      const db = await open()
      tables = []
      extra = []
      ctx = {
        db,
        sql: dialectSql(db.dialect),
        async table(columns) {
          const table = uniqueName('t')
          await db.exec(`CREATE TABLE ${table} (${columns})`)
          tables.push(table)
          return table
        },
      }
    })

    afterEach(async () => {
      for (const adapter of extra) await adapter.close().catch(() => undefined)
      const { db } = ctx
      for (const table of tables.reverse())
        await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
      await db.close().catch(() => undefined)
      await options.cleanup?.()
    })

    /** A table `(id, name TEXT)` with three rows a, b, c. */
    async function abc(): Promise<string> {
      const t = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY, name TEXT`)
      await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
      return t
    }

    describe.runIf(enabled('basics'))('basics', () => {
      it('reports its kind and dialect', () => {
        expect(typeof ctx.db.kind).toBe('string')
        expect(ctx.db.kind.length).toBeGreaterThan(0)
        expect(['sqlite', 'postgres']).toContain(ctx.db.dialect)
      })

      it('reports changes for a multi-row INSERT', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
        const result = await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
        expect(result.changes).toBe(3)
      })

      it('reports changes for an UPDATE', async () => {
        const t = await abc()
        expect((await ctx.db.run(`UPDATE ${t} SET name = 'z' WHERE id >= 2`)).changes).toBe(2)
      })

      it('reports changes for a DELETE', async () => {
        const t = await abc()
        expect((await ctx.db.run(`DELETE FROM ${t} WHERE id <> 2`)).changes).toBe(2)
      })

      it('reports 0 changes for DDL', async () => {
        const t = uniqueName('t')
        tables.push(t)
        expect((await ctx.db.run(`CREATE TABLE ${t} (id ${ctx.sql.int})`)).changes).toBe(0)
      })

      it('reports 0 changes for an UPDATE that matches nothing', async () => {
        const t = await abc()
        expect((await ctx.db.run(`UPDATE ${t} SET name = 'z' WHERE id = 99`)).changes).toBe(0)
      })

      it('reports lastInsertRowid of the inserted row', async ({ skip }) => {
        if (!ctx.db.capabilities.lastInsertRowid) skip('this adapter has no rowids')
        const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
        await ctx.db.run(`INSERT INTO ${t} (name) VALUES ('a')`)
        const second = await ctx.db.run(`INSERT INTO ${t} (name) VALUES (?)`, ['b'])
        expect(second.lastInsertRowid).toBe(2)
      })

      it('reports lastInsertRowid above 2^53 exactly, as a bigint', async ({ skip }) => {
        if (!ctx.db.capabilities.lastInsertRowid) skip('this adapter has no rowids')
        const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
        const big = 2n ** 60n + 7n
        await ctx.db.run(`INSERT INTO ${t} (id, name) VALUES (?, 'big')`, [big])
        const next = await ctx.db.run(`INSERT INTO ${t} (name) VALUES ('after')`)
        expect(next.lastInsertRowid).toBe(big + 1n)
      })

      it('get() returns the first row', async () => {
        const t = await abc()
        expect(await ctx.db.get(`SELECT id, name FROM ${t} ORDER BY id DESC`)).toEqual({ id: 3, name: 'c' })
      })

      it('get() returns undefined when there is no row', async () => {
        const t = await abc()
        expect(await ctx.db.get(`SELECT id FROM ${t} WHERE id = 42`)).toBeUndefined()
      })

      it('all() returns every row in query order', async () => {
        const t = await abc()
        expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id DESC`)).toEqual([
          { name: 'c' },
          { name: 'b' },
          { name: 'a' },
        ])
      })

      it('all() returns [] when there are no rows', async () => {
        const t = await abc()
        expect(await ctx.db.all(`SELECT id FROM ${t} WHERE id > 10`)).toEqual([])
      })

      it('exec() runs a script of several statements', async () => {
        const t = uniqueName('t')
        tables.push(t)
        await ctx.db.exec(`
          CREATE TABLE ${t} (id ${ctx.sql.int}, name TEXT);
          INSERT INTO ${t} VALUES (1, 'one');
          INSERT INTO ${t} VALUES (2, 'two');
          UPDATE ${t} SET name = 'TWO' WHERE id = 2;
        `)
        expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([
          { name: 'one' },
          { name: 'TWO' },
        ])
      })

      it('exec() keeps ; inside string literals and comments', async () => {
        const t = uniqueName('t')
        tables.push(t)
        await ctx.db.exec(`
          CREATE TABLE ${t} (id ${ctx.sql.int}, name TEXT); -- a comment; with a semicolon
          /* a block; comment */ INSERT INTO ${t} VALUES (1, 'semi;colon; ''quoted;''');
          INSERT INTO ${t} VALUES (2, '-- not a comment; /* nor this */')
        `)
        expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([
          { name: "semi;colon; 'quoted;'" },
          { name: '-- not a comment; /* nor this */' },
        ])
      })

      it('exec() of an empty script does nothing', async () => {
        await expect(ctx.db.exec('  ')).resolves.toBeUndefined()
      })

      it('keeps the case of column aliases', async () => {
        expect(await ctx.db.get(`SELECT 1 AS "camelCase", 2 AS "UPPER", 3 AS lower_snake`)).toEqual({
          camelCase: 1,
          UPPER: 2,
          lower_snake: 3,
        })
      })

      it('returns rows from INSERT … RETURNING', async ({ skip }) => {
        if (!ctx.db.capabilities.returning) skip('no RETURNING')
        const t = await ctx.table(`id ${ctx.sql.autoId}, name TEXT`)
        expect(await ctx.db.get(`INSERT INTO ${t} (name) VALUES (?) RETURNING id, name`, ['r'])).toEqual({
          id: 1,
          name: 'r',
        })
      })

      it('runs many concurrent calls, all of which complete', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => ctx.db.run(`INSERT INTO ${t} VALUES (?)`, [i])),
        )
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 100 })
      })
    })

    describe.runIf(enabled('parameters'))('parameters and values', () => {
      it('binds ? parameters in order', async () => {
        expect(await ctx.db.get('SELECT ? AS a, ? AS b, ? AS c', ['x', 2, 'z'])).toEqual({
          a: 'x',
          b: 2,
          c: 'z',
        })
      })

      it('does not treat ? inside a string literal as a parameter', async () => {
        expect(await ctx.db.get(`SELECT 'why?' AS q, ? AS p, 'it''s ?' AS r`, [1])).toEqual({
          q: 'why?',
          p: 1,
          r: "it's ?",
        })
      })

      it('does not treat ? inside a quoted identifier as a parameter', async () => {
        expect(await ctx.db.get(`SELECT ? AS "what?"`, [5])).toEqual({ 'what?': 5 })
      })

      it('does not treat ? or :name inside comments as parameters', async () => {
        const row = await ctx.db.get(
          `SELECT ? AS a -- really? :no
          /* still? :nope */ , 2 AS b`,
          [1],
        )
        expect(row).toEqual({ a: 1, b: 2 })
      })

      it('binds :name parameters by name', async () => {
        expect(await ctx.db.get('SELECT :first AS a, :second AS b', { second: 'two', first: 'one' })).toEqual(
          {
            a: 'one',
            b: 'two',
          },
        )
      })

      it('binds a repeated :name to the same value at every use', async () => {
        const t = await abc()
        const rows = await ctx.db.all(`SELECT id FROM ${t} WHERE id = :v OR id = :v + 1 ORDER BY id`, {
          v: 2,
        })
        expect(rows).toEqual([{ id: 2 }, { id: 3 }])
      })

      it('does not treat :name inside a string literal as a parameter', async () => {
        expect(await ctx.db.get(`SELECT ':not_a_param' AS s, :real AS r`, { real: 1 })).toEqual({
          s: ':not_a_param',
          r: 1,
        })
      })

      it('rejects a missing named parameter with INVALID_ARGUMENT', async () => {
        const error = await expectStorageError(
          ctx.db.get('SELECT :a AS a, :b AS b', { a: 1 }),
          'INVALID_ARGUMENT',
        )
        expect(error.message).toContain(':b')
      })

      it('rejects an unused named parameter with INVALID_ARGUMENT', async () => {
        const error = await expectStorageError(
          ctx.db.get('SELECT :a AS a', { a: 1, stray: 2 }),
          'INVALID_ARGUMENT',
        )
        expect(error.message).toContain(':stray')
      })

      it('rejects too many positional parameters with INVALID_ARGUMENT', async () => {
        await expectStorageError(ctx.db.get('SELECT ? AS a', [1, 2]), 'INVALID_ARGUMENT')
      })

      it('rejects too few positional parameters with INVALID_ARGUMENT', async () => {
        await expectStorageError(ctx.db.get('SELECT ? AS a, ? AS b', [1]), 'INVALID_ARGUMENT')
      })

      it('rejects parameters for a statement without placeholders', async () => {
        await expectStorageError(ctx.db.get('SELECT 1 AS a', [1]), 'INVALID_ARGUMENT')
      })

      it('rejects mixing ? and :name in one statement', async () => {
        await expectStorageError(ctx.db.get('SELECT ? AS a, :b AS b', [1]), 'INVALID_ARGUMENT')
      })

      it('rejects an undefined parameter and writes nothing', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
        await expectStorageError(
          ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [1, undefined as never]),
          'INVALID_ARGUMENT',
        )
        await expectStorageError(
          ctx.db.run(`INSERT INTO ${t} VALUES (:id, :name)`, { id: 1, name: undefined as never }),
          'INVALID_ARGUMENT',
        )
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 0 })
      })

      it('rejects NaN, invalid Dates and plain objects as parameters', async () => {
        await expectStorageError(ctx.db.get('SELECT ? AS a', [Number.NaN]), 'INVALID_ARGUMENT')
        await expectStorageError(ctx.db.get('SELECT ? AS a', [new Date('nope')]), 'INVALID_ARGUMENT')
        await expectStorageError(ctx.db.get('SELECT ? AS a', [{ a: 1 } as never]), 'INVALID_ARGUMENT')
      })

      it('round-trips NULL as null, distinct from the empty string', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, name TEXT`)
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [null, ''])
        expect(await ctx.db.all(`SELECT id, name FROM ${t} ORDER BY id`)).toEqual([
          { id: 1, name: null },
          { id: 2, name: '' },
        ])
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t} WHERE name IS NULL`)).toEqual({ n: 1 })
      })

      it('round-trips a blob byte-exact as a plain Uint8Array', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, data ${ctx.sql.blob}`)
        const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256)
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [bytes, new Uint8Array(0)])
        const rows = await ctx.db.all<{ data: Uint8Array }>(`SELECT data FROM ${t} ORDER BY id`)
        expect(Object.getPrototypeOf(rows[0]?.data)).toBe(Uint8Array.prototype)
        expect(Array.from(rows[0]?.data ?? [])).toEqual(Array.from(bytes))
        expect(rows[1]?.data).toBeInstanceOf(Uint8Array)
        expect(rows[1]?.data.byteLength).toBe(0)
      })

      it('returns integers within ±(2^53-1) as numbers', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
        const values = [0, -1, 42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]
        for (const [i, n] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, n])
        const rows = await ctx.db.all<{ n: unknown }>(`SELECT n FROM ${t} ORDER BY id`)
        expect(rows.map((r) => r.n)).toEqual(values)
      })

      it('round-trips integers beyond 2^53 exactly as bigints', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
        const values = [2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)]
        for (const [i, n] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, n])
        const stored = await ctx.db.all<{ s: unknown }>(`SELECT CAST(n AS TEXT) AS s FROM ${t} ORDER BY id`)
        expect(stored.map((r) => r.s)).toEqual(values.map(String))
        expect(await ctx.db.get(`SELECT id FROM ${t} WHERE n = ?`, [2n ** 63n - 1n])).toEqual({ id: 2 })
        if (options.exactLargeIntegers === false) return
        const rows = await ctx.db.all<{ n: unknown }>(`SELECT n FROM ${t} ORDER BY id`)
        expect(rows.map((r) => r.n)).toEqual(values)
      })

      it('round-trips floating-point numbers', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, x ${ctx.sql.real}`)
        const values = [0.1, -1.5e300, Math.PI, 5e-324]
        for (const [i, x] of values.entries()) await ctx.db.run(`INSERT INTO ${t} VALUES (?, ?)`, [i, x])
        const rows = await ctx.db.all<{ x: unknown }>(`SELECT x FROM ${t} ORDER BY id`)
        expect(rows.map((r) => r.x)).toEqual(values)
      })

      it('round-trips text with quotes, backslashes, newlines and emoji', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, s TEXT`)
        const text = `it's "quoted" \\ back\\slash\nnew line\ttab — ünïcödé 🚀 ${'x'.repeat(5000)}`
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [text])
        expect(await ctx.db.get(`SELECT s FROM ${t}`)).toEqual({ s: text })
      })

      it('stores an injection attempt in a value verbatim', async () => {
        const t = await abc()
        const evil = `x'); DROP TABLE ${t}; --`
        await ctx.db.run(`UPDATE ${t} SET name = ? WHERE id = 1`, [evil])
        expect(await ctx.db.get(`SELECT name FROM ${t} WHERE id = 1`)).toEqual({ name: evil })
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
      })

      it('binds booleans as 1/0 on SQLite and as booleans on Postgres', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, flag BOOLEAN`)
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?), (2, ?)`, [true, false])
        const rows = await ctx.db.all<{ flag: unknown }>(`SELECT flag FROM ${t} ORDER BY id`)
        const expected = ctx.db.dialect === 'sqlite' ? [1, 0] : [true, false]
        expect(rows.map((r) => r.flag)).toEqual(expected)
        expect(await ctx.db.get(`SELECT id FROM ${t} WHERE flag = ?`, [true])).toEqual({ id: 1 })
      })

      it('binds a Date as its ISO-8601 UTC string', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, at TEXT`)
        const when = new Date(Date.UTC(2024, 1, 29, 13, 45, 6, 789))
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [when])
        expect(await ctx.db.get(`SELECT at FROM ${t}`)).toEqual({ at: '2024-02-29T13:45:06.789Z' })
      })

      it('writes ?? for the Postgres JSONB ? operator, and rejects it on SQLite', async () => {
        if (ctx.db.dialect === 'postgres') {
          const row = await ctx.db.get(
            `SELECT '{"a":1}'::jsonb ?? 'a' AS has, '{"a":1}'::jsonb ??| ? AS any`,
            [['b', 'a']],
          )
          expect(row).toEqual({ has: true, any: true })
        } else {
          await expectStorageError(ctx.db.get(`SELECT 1 ?? 2 AS x`), 'INVALID_ARGUMENT')
        }
      })
    })

    describe.runIf(enabled('transactions'))('transactions and concurrency', () => {
      it('commits and returns the callback value', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        const value = await ctx.db.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${t} VALUES (1), (2)`)
          return { inserted: 2 }
        })
        expect(value).toEqual({ inserted: 2 })
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 2 })
      })

      it('rolls back when the callback throws and rethrows the original error', async () => {
        const t = await abc()
        const boom = new Error('boom')
        const caught = await ctx.db
          .transaction(async (tx) => {
            await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
            await tx.run(`UPDATE ${t} SET name = 'changed'`)
            throw boom
          })
          .catch((error: unknown) => error)
        expect(caught).toBe(boom)
        expect(await ctx.db.all(`SELECT name FROM ${t} ORDER BY id`)).toEqual([
          { name: 'a' },
          { name: 'b' },
          { name: 'c' },
        ])
      })

      it('rethrows a non-Error rejection as it is', async () => {
        const caught = await ctx.db
          .transaction(async () => {
            throw 'plain string'
          })
          .catch((error: unknown) => error)
        expect(caught).toBe('plain string')
      })

      it('rolls back everything when a statement inside fails', async () => {
        const t = await abc()
        await expectStorageError(
          ctx.db.transaction(async (tx) => {
            await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
            await tx.run(`INSERT INTO ${t} VALUES (1, 'duplicate')`)
          }),
          'UNIQUE_VIOLATION',
        )
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
      })

      it('runs a nested transaction as a savepoint: an inner failure keeps the outer work', async () => {
        const t = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY`)
        await ctx.db.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${t} VALUES (1)`)
          await expectStorageError(
            tx.transaction(async (inner) => {
              await inner.run(`INSERT INTO ${t} VALUES (2)`)
              await inner.run(`INSERT INTO ${t} VALUES (1)`)
            }),
            'UNIQUE_VIOLATION',
          )
          await tx.run(`INSERT INTO ${t} VALUES (3)`)
        })
        expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }])
      })

      it('commits a successful nested transaction with the outer one', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        const inner = await ctx.db.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${t} VALUES (1)`)
          return tx.transaction(async (nested) => {
            await nested.run(`INSERT INTO ${t} VALUES (2)`)
            return 'inner value'
          })
        })
        expect(inner).toBe('inner value')
        expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }])
      })

      it('discards a committed savepoint when the outer transaction rolls back', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        await ctx.db
          .transaction(async (tx) => {
            await tx.transaction(async (nested) => {
              await nested.run(`INSERT INTO ${t} VALUES (1)`)
            })
            throw new Error('outer fails')
          })
          .catch(() => undefined)
        expect(await ctx.db.all(`SELECT id FROM ${t}`)).toEqual([])
      })

      it('supports three levels of nesting with a failure in the middle level', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        await ctx.db.transaction(async (a) => {
          await a.run(`INSERT INTO ${t} VALUES (1)`)
          await a
            .transaction(async (b) => {
              await b.run(`INSERT INTO ${t} VALUES (2)`)
              await b.transaction(async (c) => {
                await c.run(`INSERT INTO ${t} VALUES (3)`)
              })
              throw new Error('level two fails')
            })
            .catch(() => undefined)
          await a.run(`INSERT INTO ${t} VALUES (4)`)
        })
        expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 1 }, { id: 4 }])
      })

      it('keeps calls made outside a running transaction out of it', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, who TEXT`)
        let entered!: () => void
        const inside = new Promise<void>((resolve) => {
          entered = resolve
        })
        const failing = ctx.db.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${t} VALUES (1, 'tx')`)
          entered()
          await sleep(20)
          throw new Error('roll back')
        })
        await inside
        const outside = ctx.db.run(`INSERT INTO ${t} VALUES (2, 'outside')`)
        await expect(failing).rejects.toThrow('roll back')
        await outside
        expect(await ctx.db.all(`SELECT who FROM ${t} ORDER BY id`)).toEqual([{ who: 'outside' }])
      })

      it('never lets two concurrent transactions see part of each other', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, who TEXT`)
        const work = (who: string, base: number) =>
          ctx.db.transaction(async (tx) => {
            await tx.run(`INSERT INTO ${t} VALUES (?, ?)`, [base, who])
            await sleep(10)
            await tx.run(`INSERT INTO ${t} VALUES (?, ?)`, [base + 1, who])
            await sleep(10)
            return (await tx.all<{ who: string }>(`SELECT who FROM ${t} ORDER BY id`)).map((r) => r.who)
          })
        const [seenByA, seenByB] = await Promise.all([work('a', 1), work('b', 3)])
        const whole = (seen: string[], mine: string, theirs: string) => {
          expect(seen.filter((w) => w === mine)).toHaveLength(2)
          expect([0, 2]).toContain(seen.filter((w) => w === theirs).length)
        }
        whole(seenByA, 'a', 'b')
        whole(seenByB, 'b', 'a')
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 4 })
      })

      it('serialises read-modify-write transactions on a single connection', async ({ skip }) => {
        if (ctx.db.capabilities.concurrency !== 'single')
          skip('pooled adapters isolate rather than serialise')
        const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int}`)
        await ctx.db.run(`INSERT INTO ${t} VALUES (1, 0)`)
        await Promise.all(
          Array.from({ length: 10 }, () =>
            ctx.db.transaction(async (tx) => {
              const row = await tx.get<{ n: number }>(`SELECT n FROM ${t} WHERE id = 1`)
              await sleep(1)
              await tx.run(`UPDATE ${t} SET n = ? WHERE id = 1`, [(row?.n ?? 0) + 1])
            }),
          ),
        )
        expect(await ctx.db.get(`SELECT n FROM ${t}`)).toEqual({ n: 10 })
      })

      it('rejects use of a transaction handle after the transaction ended with CLOSED', async () => {
        let leaked: StorageAdapter | undefined
        await ctx.db.transaction(async (tx) => {
          leaked = tx
        })
        await expectStorageError(
          rejectionOf(() => leaked?.get('SELECT 1 AS x')),
          'CLOSED',
        )
      })

      it('keeps the portable error code for a failure inside a transaction', async () => {
        const t = await abc()
        const error = await expectStorageError(
          ctx.db.transaction((tx) => tx.run(`INSERT INTO ${t} VALUES (2, 'again')`)),
          'UNIQUE_VIOLATION',
        )
        expect(error.cause).toBeDefined()
      })

      it('stays usable after a rolled-back transaction', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}`)
        await ctx.db
          .transaction(async (tx) => {
            await tx.run(`INSERT INTO ${t} VALUES (1)`)
            throw new Error('no')
          })
          .catch(() => undefined)
        await ctx.db.transaction((tx) => tx.run(`INSERT INTO ${t} VALUES (2)`))
        await ctx.db.run(`INSERT INTO ${t} VALUES (3)`)
        expect(await ctx.db.all(`SELECT id FROM ${t} ORDER BY id`)).toEqual([{ id: 2 }, { id: 3 }])
      })

      it('restores updated and deleted rows on rollback', async () => {
        const t = await abc()
        await ctx.db
          .transaction(async (tx) => {
            await tx.run(`UPDATE ${t} SET name = 'x' WHERE id = 1`)
            await tx.run(`DELETE FROM ${t} WHERE id = 2`)
            expect(await tx.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 2 })
            throw new Error('undo')
          })
          .catch(() => undefined)
        expect(await ctx.db.all(`SELECT id, name FROM ${t} ORDER BY id`)).toEqual([
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
          { id: 3, name: 'c' },
        ])
      })
    })

    describe.runIf(enabled('errors'))('errors', () => {
      it('reports a unique violation as UNIQUE_VIOLATION with the driver error as cause', async () => {
        const t = await abc()
        const error = await expectStorageError(
          ctx.db.run(`INSERT INTO ${t} VALUES (1, 'again')`),
          'UNIQUE_VIOLATION',
        )
        expect(error.cause).toBeDefined()
        expect(error.cause).not.toBeInstanceOf(StorageError)
      })

      it('reports a foreign key violation as FOREIGN_KEY_VIOLATION', async () => {
        const parent = await ctx.table(`id ${ctx.sql.int} PRIMARY KEY`)
        const child = await ctx.table(`id ${ctx.sql.int}, parent_id ${ctx.sql.int} REFERENCES ${parent}(id)`)
        tables.splice(tables.indexOf(parent), 1)
        tables.push(parent) // drop the child first
        await ctx.db.run(`INSERT INTO ${parent} VALUES (1)`)
        await ctx.db.run(`INSERT INTO ${child} VALUES (1, 1)`)
        await expectStorageError(ctx.db.run(`INSERT INTO ${child} VALUES (2, 99)`), 'FOREIGN_KEY_VIOLATION')
      })

      it('reports a NOT NULL violation as NOT_NULL_VIOLATION', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, name TEXT NOT NULL`)
        await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, ?)`, [null]), 'NOT_NULL_VIOLATION')
      })

      it('reports a CHECK violation as CHECK_VIOLATION', async () => {
        const t = await ctx.table(`id ${ctx.sql.int}, n ${ctx.sql.int} CHECK (n > 0)`)
        await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, -1)`), 'CHECK_VIOLATION')
      })

      it('reports a syntax error as SYNTAX_ERROR and keeps the SQL', async () => {
        const error = await expectStorageError(ctx.db.all('SELEKT 1'), 'SYNTAX_ERROR')
        expect(error.sql).toBe('SELEKT 1')
      })

      it('reports an unknown table as NOT_FOUND', async () => {
        await expectStorageError(ctx.db.all(`SELECT * FROM ${uniqueName('missing')}`), 'NOT_FOUND')
      })

      it('rejects SQL that is not a string with INVALID_ARGUMENT', async () => {
        await expectStorageError(
          rejectionOf(() => ctx.db.all(42 as never)),
          'INVALID_ARGUMENT',
        )
      })

      it('stays usable after a failed statement', async () => {
        const t = await abc()
        await expectStorageError(ctx.db.run(`INSERT INTO ${t} VALUES (1, 'dup')`), 'UNIQUE_VIOLATION')
        expect(await ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)).toEqual({ n: 3 })
      })

      it('fails every call after close() with CLOSED', async () => {
        await ctx.db.close()
        await expectStorageError(
          rejectionOf(() => ctx.db.exec('SELECT 1')),
          'CLOSED',
        )
        await expectStorageError(
          rejectionOf(() => ctx.db.run('SELECT 1')),
          'CLOSED',
        )
        await expectStorageError(
          rejectionOf(() => ctx.db.get('SELECT 1')),
          'CLOSED',
        )
        await expectStorageError(
          rejectionOf(() => ctx.db.all('SELECT 1')),
          'CLOSED',
        )
        await expectStorageError(
          rejectionOf(() => ctx.db.transaction(async () => 1)),
          'CLOSED',
        )
        const iterator = ctx.db.iterate('SELECT 1')[Symbol.asyncIterator]()
        await expectStorageError(
          rejectionOf(() => iterator.next()),
          'CLOSED',
        )
      })

      it('treats a second close() as a no-op', async () => {
        await ctx.db.close()
        await expect(ctx.db.close()).resolves.toBeUndefined()
      })

      it('lets calls queued before close() finish, and fails those after it', async () => {
        const t = await abc()
        const queued = ctx.db.get(`SELECT COUNT(*) AS n FROM ${t}`)
        const closing = ctx.db.close()
        await expectStorageError(
          rejectionOf(() => ctx.db.get('SELECT 1')),
          'CLOSED',
        )
        expect(await queued).toEqual({ n: 3 })
        await closing
      })

      it('lets a transaction running when close() is called finish its work and commit', async () => {
        const t = await abc()
        let release!: () => void
        const hold = new Promise<void>((resolve) => {
          release = resolve
        })
        let entered!: () => void
        const inside = new Promise<void>((resolve) => {
          entered = resolve
        })
        const work = ctx.db.transaction(async (tx) => {
          entered()
          await hold
          await tx.run(`INSERT INTO ${t} (id, name) VALUES (4, 'd')`)
          return tx.get(`SELECT COUNT(*) AS n FROM ${t}`)
        })
        await inside
        const closing = ctx.db.close()
        release()
        expect(await work).toEqual({ n: 4 })
        await closing
      })
    })

    describe.runIf(enabled('streaming'))('streaming', () => {
      const series = (n: number, extra = '') =>
        `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n}) SELECT n${extra} FROM s`

      it('iterate() yields every row in order', async () => {
        const seen: number[] = []
        for await (const row of ctx.db.iterate<{ n: number }>(series(1000))) seen.push(row.n)
        expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
      })

      it('iterate() of an empty result yields nothing', async () => {
        const t = await abc()
        const rows: unknown[] = []
        for await (const row of ctx.db.iterate(`SELECT * FROM ${t} WHERE id < 0`)) rows.push(row)
        expect(rows).toEqual([])
      })

      it('iterate() binds parameters', async () => {
        const t = await abc()
        const names: unknown[] = []
        for await (const row of ctx.db.iterate<{ name: string }>(
          `SELECT name FROM ${t} WHERE id >= :min ORDER BY id`,
          {
            min: 2,
          },
        )) {
          names.push(row.name)
        }
        expect(names).toEqual(['b', 'c'])
      })

      it('iterate() streams a large result in bounded memory', async () => {
        const rows = options.streamRows ?? 200_000
        const memory = (globalThis as { process?: { memoryUsage?: () => { heapUsed: number } } }).process
          ?.memoryUsage
        const before = memory?.().heapUsed ?? 0
        let peak = before
        let count = 0
        for await (const row of ctx.db.iterate<{ n: number; pad: string }>(
          series(rows, `, ${ctx.sql.pad(1000)} AS pad`),
        )) {
          count++
          if (row.pad.length !== 1000) throw new Error(`row ${row.n} has a pad of ${row.pad.length}`)
          if (memory && count % 5000 === 0) peak = Math.max(peak, memory().heapUsed)
        }
        expect(count).toBe(rows)
        // Holding every row would take about rows × 1 KB; a stream stays far below half of that.
        if (memory) expect(peak - before).toBeLessThan((rows * 1000) / 2)
      })

      it('iterate() can be stopped early and releases the cursor', async () => {
        const t = await abc()
        let taken = 0
        for await (const _row of ctx.db.iterate(series(100_000))) {
          if (++taken === 5) break
        }
        expect(taken).toBe(5)
        await ctx.db.run(`INSERT INTO ${t} VALUES (4, 'd')`)
        let again = 0
        for await (const _row of ctx.db.iterate(`SELECT id FROM ${t}`)) again++
        expect(again).toBe(4)
      })

      it('iterate() propagates an error thrown in the loop and releases the cursor', async () => {
        const boom = new Error('stop here')
        const caught = await (async () => {
          for await (const _row of ctx.db.iterate(series(10))) throw boom
        })().catch((error: unknown) => error)
        expect(caught).toBe(boom)
        expect(await ctx.db.get('SELECT 1 AS ok')).toEqual({ ok: 1 })
      })

      it('iterate() reports a bad statement as a StorageError', async () => {
        const iterator = ctx.db.iterate('SELEKT nonsense')[Symbol.asyncIterator]()
        await expectStorageError(
          rejectionOf(() => iterator.next()),
          'SYNTAX_ERROR',
        )
        expect(await ctx.db.get('SELECT 1 AS ok')).toEqual({ ok: 1 })
      })

      it('iterate() inside a transaction sees the transaction’s own writes', async () => {
        const t = await abc()
        const names = await ctx.db.transaction(async (tx) => {
          await tx.run(`INSERT INTO ${t} VALUES (4, 'd')`)
          const seen: string[] = []
          for await (const row of tx.iterate<{ name: string }>(`SELECT name FROM ${t} ORDER BY id`))
            seen.push(row.name)
          return seen
        })
        expect(names).toEqual(['a', 'b', 'c', 'd'])
      })
    })

    describe.runIf(enabled('persistence') && options.persistence !== undefined)('persistence', () => {
      const hooks = options.persistence as PersistenceHooks
      const reopen = async (location: string) => {
        const adapter = await hooks.open(location)
        extra.push(adapter)
        return adapter
      }

      it('keeps file-backed data across close and reopen', async () => {
        const location = await hooks.newLocation()
        const first = await reopen(location)
        await first.exec('CREATE TABLE kept (id INTEGER PRIMARY KEY, name TEXT)')
        await first.run('INSERT INTO kept VALUES (1, ?)', ['survives'])
        await first.close()
        const second = await reopen(location)
        expect(await second.all('SELECT id, name FROM kept')).toEqual([{ id: 1, name: 'survives' }])
      })

      it('keeps committed transactions and drops rolled-back ones across reopen', async () => {
        const location = await hooks.newLocation()
        const first = await reopen(location)
        await first.exec('CREATE TABLE kept (id INTEGER PRIMARY KEY)')
        await first.transaction((tx) => tx.run('INSERT INTO kept VALUES (1)'))
        await first
          .transaction(async (tx) => {
            await tx.run('INSERT INTO kept VALUES (2)')
            throw new Error('undo')
          })
          .catch(() => undefined)
        await first.close()
        const second = await reopen(location)
        expect(await second.all('SELECT id FROM kept')).toEqual([{ id: 1 }])
      })

      it('creates nothing for an in-memory database', async ({ skip }) => {
        if (hooks.memoryLocation === undefined || !hooks.exists)
          skip('no in-memory location for this adapter')
        const location = hooks.memoryLocation as string
        const memory = await reopen(location)
        await memory.exec('CREATE TABLE gone (id INTEGER)')
        await memory.run('INSERT INTO gone VALUES (1)')
        await memory.close()
        expect(await hooks.exists?.(location)).toBe(false)
        const again = await reopen(location)
        await expectStorageError(again.all('SELECT * FROM gone'), 'NOT_FOUND')
      })
    })
  })
}
