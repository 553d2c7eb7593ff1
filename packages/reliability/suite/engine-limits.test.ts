import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { type Filter, type StorageAdapter, StorageError } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures } from '../src/figures.js'
import { attempt } from '../src/hostile-values.js'
import { PG_URL, requirePostgres } from '../src/pg-env.js'
import { openStoreTargets, type StoreTargets } from '../src/store-targets.js'

// The limits that remain, and that each one is a clear INVALID_ARGUMENT rather than a crash, a
// stack overflow, a frozen event loop or a misleading driver error: statements binding more
// parameters than the dialect allows, filters nested 10,000 deep or holding too much, and two
// sqlite-native adapters writing one file in one process.
const FILE = 'engine-limits'
const folder = mkdtempSync(join(tmpdir(), 'engram-limits-'))
let stores: StoreTargets
let postgres: StorageAdapter

beforeAll(async () => {
  await requirePostgres()
  postgres = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
  stores = await openStoreTargets()
}, 120_000)

afterAll(async () => {
  await stores?.close()
  await postgres?.close()
  rmSync(folder, { recursive: true, force: true })
}, 120_000)

/** A filter nested `depth` levels deep, built without recursion. */
function nested(depth: number): Filter {
  let filter: Filter = { f: 1 }
  for (let i = 0; i < depth; i++) filter = { $or: [filter, { g: i }] }
  return filter
}

describe('limits that remain are clear INVALID_ARGUMENT errors', () => {
  it('a statement with more parameters than the dialect binds is INVALID_ARGUMENT, not CONNECTION_FAILED', async () => {
    const sqlite = createSqliteNativeAdapter({ filename: ':memory:' })
    try {
      for (const [name, db, count] of [
        ['sqlite-native', sqlite, 40_000],
        ['postgres', postgres, 70_000],
      ] as const) {
        const params = Array.from({ length: count }, (_, i) => i)
        const sql = `SELECT ${name === 'postgres' ? 'ARRAY[' : 'json_array('}${params.map(() => '?').join(', ')}${name === 'postgres' ? ']' : ')'} AS v`
        const start = performance.now()
        const refused = await attempt(`${count} parameters on ${name}`, () => db.get(sql, params))
        expect(refused.ok, name).toBe(false)
        if (!refused.ok) expect(refused.error.message).toMatch(/one parameter|array/)
        // The adapter keeps working, and the refusal came at once.
        expect(await db.get('SELECT 1 AS one')).toEqual({ one: 1 })
        printFigures(FILE, `${count} parameters on ${name}`, { refusedInMs: performance.now() - start })
      }
    } finally {
      await sqlite.close()
    }
  })

  it('filters nested 10,000 deep, or holding too many conditions or values, are INVALID_ARGUMENT on every store', async () => {
    const hostile: Array<[string, Filter]> = [
      ['nested 10,000 levels deep', nested(10_000)],
      ['nested 33 levels deep', nested(33)],
      ['2,000 conditions', { $or: Array.from({ length: 2_000 }, (_, i) => ({ f: i })) }],
      ['150,000 $in values', { f: { $in: Array.from({ length: 150_000 }, (_, i) => i) } }],
    ]
    for (const { name, store } of stores.targets) {
      await store.createCollection('limits', { dimension: 4 })
      try {
        await store.upsert('limits', [{ id: 'a', vector: [1, 1, 1, 1], metadata: { f: 1 } }])
        for (const [label, filter] of hostile) {
          const calls: Array<[string, () => Promise<unknown>]> = [
            ['count', () => store.count('limits', filter)],
            ['query', () => store.query('limits', { vector: [1, 1, 1, 1], filter })],
            ['delete', () => store.delete('limits', { filter })],
          ]
          for (const [call, run] of calls) {
            const refused = await attempt(`${name} ${call} ${label}`, run)
            expect(refused.ok, `${name} ${call} ${label}`).toBe(false)
          }
        }
        // The deepest filter allowed still works, and nothing was deleted by the refused ones.
        expect(await store.count('limits', nested(31))).toBe(1)
      } finally {
        await store.dropCollection('limits')
      }
    }
    printFigures(FILE, 'oversized filters', {
      stores: stores.targets.length,
      refusedWithInvalidArgument: stores.targets.length * hostile.length * 3,
      stackOverflows: 0,
    })
  })
})

describe('two sqlite-native adapters on one file in one process', () => {
  it('a writer waiting for the other keeps the event loop running, then proceeds (or fails fast with BUSY)', async () => {
    const file = join(folder, 'shared.db')
    const first = createSqliteNativeAdapter({ filename: file, busyTimeout: 2000 })
    const second = createSqliteNativeAdapter({ filename: file, busyTimeout: 2000 })
    const delay = monitorEventLoopDelay({ resolution: 10 })
    try {
      await first.exec('CREATE TABLE IF NOT EXISTS t (who TEXT)')
      let release: () => void = () => undefined
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      let started: () => void = () => undefined
      const inside = new Promise<void>((resolve) => {
        started = resolve
      })
      const transaction = first.transaction(async (tx) => {
        await tx.run("INSERT INTO t VALUES ('first')")
        started()
        await held
      })
      await inside
      delay.enable()
      const waiting = second.run("INSERT INTO t VALUES ('second')").then(
        () => 'proceeded',
        (error: unknown) => (error instanceof StorageError ? error.code : String(error)),
      )
      // While the second writer waits, timers still fire: the loop is not blocked by SQLite.
      let ticks = 0
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (++ticks === 20) {
            clearInterval(timer)
            resolve()
          }
        }, 10)
      })
      release()
      await transaction
      const outcome = await waiting
      delay.disable()
      expect(['proceeded', 'BUSY']).toContain(outcome)
      const maxLagMs = delay.max / 1e6
      // Blocking in SQLite's busy handler froze the loop for the whole busy timeout (20 s measured).
      expect(maxLagMs).toBeLessThan(1000)
      const rows = await first.all<{ who: string }>('SELECT who FROM t ORDER BY rowid')
      expect(rows.map((r) => r.who)).toEqual(outcome === 'proceeded' ? ['first', 'second'] : ['first'])
      printFigures(FILE, 'two adapters on one file', { secondWriter: outcome, maxEventLoopLagMs: maxLagMs })
    } finally {
      await first.close()
      await second.close()
    }
  })
})
