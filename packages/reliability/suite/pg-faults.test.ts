import { seededRandom } from '@engram/conformance'
import { type StorageAdapter, StorageError } from '@engram/core'
import { createPgVectorStore, createPostgresAdapter } from '@engram/postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures, runSeed, scaled } from '../src/figures.js'
import { admin, freshName, PG_URL, requirePostgres, terminateBackends } from '../src/pg-env.js'
import { waitFor } from '../src/wait-for.js'

// PostgreSQL backends terminated with pg_terminate_backend at the worst moments: inside a
// transaction, just before COMMIT, under a streaming iterate() (at the root and in a
// transaction), in the middle of a PgVectorStore upsert, and while idle in the pool. Each time
// the process survives (an unhandled 'error' event would fail this file), the caller gets
// CONNECTION_FAILED, nothing is half-stored, and the same adapter keeps working.
const FILE = 'pg-faults'
const ROUNDS = scaled(15)
const seed = runSeed()
const random = seededRandom(seed)
const app = freshName('engram_faults')
const schema = freshName('engram_faults')
let adapter: StorageAdapter
const seen: Record<string, number> = {}

beforeAll(async () => {
  await requirePostgres()
  await admin(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.rows (id int PRIMARY KEY, body text NOT NULL)`)
  adapter = createPostgresAdapter({ connectionString: PG_URL, applicationName: app, max: 4 })
})

afterAll(async () => {
  await adapter?.close()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

/** Counts an outcome for the figures, and fails unless it is a StorageError with CONNECTION_FAILED. */
function expectConnectionFailed(error: unknown, where: string): void {
  expect(error, where).toBeInstanceOf(StorageError)
  expect((error as StorageError).code, `${where}: ${(error as Error).message}`).toBe('CONNECTION_FAILED')
  seen[where] = (seen[where] ?? 0) + 1
}

async function rowCount(): Promise<number> {
  const [row] = await admin<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.rows`)
  return Number(row?.n)
}

/** The adapter still answers, and can still write and read back. */
async function expectWorking(id: number): Promise<void> {
  await adapter.run(`INSERT INTO ${schema}.rows (id, body) VALUES (?, ?)`, [id, 'after'])
  expect(await adapter.get(`SELECT body FROM ${schema}.rows WHERE id = ?`, [id])).toEqual({ body: 'after' })
  await adapter.run(`DELETE FROM ${schema}.rows WHERE id = ?`, [id])
}

let nextId = 1

describe(`PostgreSQL backends terminated mid-work, ${ROUNDS} rounds each (seed ${seed})`, () => {
  it('mid-transaction: the transaction rejects with CONNECTION_FAILED, none of its rows are stored, the adapter keeps working', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const before = await rowCount()
      const writes = 1 + Math.floor(random() * 20)
      const failure = await adapter
        .transaction(async (tx) => {
          const { pid } = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as { pid: number }
          for (let i = 0; i < writes; i++) {
            await tx.run(`INSERT INTO ${schema}.rows (id, body) VALUES (?, ?)`, [nextId++, 'in flight'])
          }
          expect(await terminateBackends({ pids: [pid] })).toBe(1)
          await tx.run(`INSERT INTO ${schema}.rows (id, body) VALUES (?, ?)`, [nextId++, 'after the kill'])
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        )
      expectConnectionFailed(failure, 'mid-transaction')
      expect(await rowCount()).toBe(before)
      await expectWorking(nextId++)
    }
  })

  it('just before COMMIT: CONNECTION_FAILED, nothing stored, the adapter keeps working', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const before = await rowCount()
      const failure = await adapter
        .transaction(async (tx) => {
          const { pid } = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as { pid: number }
          await tx.run(`INSERT INTO ${schema}.rows (id, body) VALUES (?, ?)`, [nextId++, 'uncommitted'])
          await terminateBackends({ pids: [pid] })
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        )
      expectConnectionFailed(failure, 'before COMMIT')
      expect(await rowCount()).toBe(before)
      await expectWorking(nextId++)
    }
  })

  for (const place of ['at the root', 'in a transaction'] as const) {
    it(`under a streaming iterate() ${place}: the loop rejects with CONNECTION_FAILED, the process survives, the adapter keeps working`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        // Past the first cursor page (500 rows), so the kill lands between two reads of the portal.
        const killAt = 1 + Math.floor(random() * 1500)
        const loop = async (db: StorageAdapter): Promise<number> => {
          let n = 0
          for await (const row of db.iterate<{ pid: number }>(
            'SELECT pg_backend_pid() AS pid, g FROM generate_series(1, 200000) AS g',
          )) {
            if (++n === killAt) await terminateBackends({ pids: [row.pid] })
          }
          return n
        }
        const failure = await (place === 'at the root'
          ? loop(adapter)
          : adapter.transaction((tx) => loop(tx))
        ).then(
          (rows) => new Error(`the loop read all ${rows} rows after its backend was terminated`),
          (error: unknown) => error,
        )
        expectConnectionFailed(failure, `iterate ${place}`)
        await expectWorking(nextId++)
      }
    })
  }

  it('mid-upsert on PgVectorStore: CONNECTION_FAILED, none of the batch stored, the store keeps working', async () => {
    const vectors = freshName('engram_faults_vec')
    const store = createPgVectorStore({ adapter, schema: vectors })
    const holder = new pg.Client({ connectionString: PG_URL })
    await holder.connect()
    const lockKey = 0x656e6772 // an advisory lock no other test takes
    try {
      await store.createCollection('docs', { dimension: 4 })
      const [table] = await admin<{ name: string }>(
        `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'engram_v%'`,
        [vectors],
      )
      // A row trigger that waits on an advisory lock this test holds, for one record in the middle of the batch.
      await admin(`CREATE FUNCTION ${vectors}.hold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.id LIKE 'hold-%' THEN PERFORM pg_advisory_xact_lock_shared(${lockKey}); END IF; RETURN NEW; END $$;
        CREATE TRIGGER hold BEFORE INSERT ON ${table?.name} FOR EACH ROW EXECUTE FUNCTION ${vectors}.hold()`)
      await store.upsert(
        'docs',
        Array.from({ length: 50 }, (_, i) => ({ id: `base-${i}`, vector: [1, i, 0, 1], metadata: { i } })),
      )
      for (let round = 0; round < ROUNDS; round++) {
        await holder.query('SELECT pg_advisory_lock($1)', [lockKey])
        const size = 600 + Math.floor(random() * 1400)
        const at = Math.floor(random() * size)
        const batch = Array.from({ length: size }, (_, i) => ({
          id: i === at ? `hold-${round}` : `r${round}-${i}`,
          vector: [i, 1, round, 1],
          metadata: { round, i },
          text: `record ${i} of round ${round}`,
        }))
        const upsert = store.upsert('docs', batch).then(
          () => new Error('the upsert finished after its backend was terminated'),
          (error: unknown) => error,
        )
        const pid = await waitFor('the upsert to wait on the advisory lock', async () => {
          const [row] = await admin<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
            [app],
          )
          return row?.pid
        })
        await terminateBackends({ pids: [pid] })
        await holder.query('SELECT pg_advisory_unlock($1)', [lockKey])
        expectConnectionFailed(await upsert, 'mid-upsert')
        expect(await store.count('docs', { round })).toBe(0)
        expect(await store.count('docs')).toBe(50 + round)
        await store.upsert('docs', [
          { id: `after-${round}`, vector: [1, 1, 1, 1], metadata: { after: round } },
        ])
        expect(await store.get('docs', [`after-${round}`])).toHaveLength(1)
      }
    } finally {
      await holder.end()
      await store.close()
      await admin(`DROP SCHEMA IF EXISTS ${vectors} CASCADE`)
    }
  })

  it('idle pooled connections terminated (a restart or failover): later calls succeed on fresh connections', async () => {
    let terminated = 0
    for (let round = 0; round < ROUNDS; round++) {
      // Fill the pool with several idle connections, then terminate every one of them.
      await Promise.all(Array.from({ length: 4 }, () => adapter.get('SELECT pg_sleep(0.01)')))
      terminated += await waitFor('the pool to have idle connections', async () => {
        const n = await terminateBackends({ applicationName: app })
        return n > 0 ? n : undefined
      })
      // A terminated idle connection is discarded when it reports the loss; a call that picks one
      // before that may fail once with CONNECTION_FAILED, and the call after it must succeed.
      const first = await adapter.get<{ one: number }>('SELECT 1 AS one').then(
        (row) => row,
        (error: unknown) => error,
      )
      if (first instanceof Error) expectConnectionFailed(first, 'idle connection lost')
      else expect(first).toEqual({ one: 1 })
      await expectWorking(nextId++)
    }
    expect(terminated).toBeGreaterThanOrEqual(ROUNDS)
    printFigures(FILE, 'all scenarios', {
      rounds: ROUNDS,
      idleConnectionsTerminated: terminated,
      ...seen,
      halfStored: 0,
      crashes: 0,
    })
  })
})
