import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StorageAdapter, VectorRecord } from '@engram/core'
import { ConversationMemory, TURNS_TABLE } from '@engram/memory'
import { createPgVectorStore } from '@engram/postgres'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHECKPOINT_TABLE, checkParity, migrate } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_kill')
afterAll(() => env.cleanup())

const child = fileURLToPath(new URL('./fixtures/migrate-and-pause.mjs', import.meta.url))
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** Runs the child until it pauses in the middle of the migration, then kills it with SIGKILL. */
async function killMidway(config: Record<string, unknown>): Promise<void> {
  if (!existsSync(built))
    throw new Error(
      `${built} is missing: build @engram/migrate first (tsc -p packages/migrate/tsconfig.build.json)`,
    )
  const proc = spawn(process.execPath, [child, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('paused')) resolve()
    })
    proc.once('exit', (code) =>
      reject(new Error(`the migration exited with ${code} before pausing: ${output}`)),
    )
  })
  const exited = new Promise((resolve) => proc.once('exit', (_code, signal) => resolve(signal)))
  proc.kill('SIGKILL')
  expect(await exited).toBe('SIGKILL')
}

async function count(db: StorageAdapter, table: string): Promise<number> {
  return Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))?.n)
}

describe('a migration killed with SIGKILL', () => {
  let source: string

  beforeAll(async () => {
    source = env.file('source.db')
    const db = env.sqlite(source)
    const memory = new ConversationMemory(db)
    await memory.initialize()
    const turns = Array.from({ length: 2400 }, (_, i) => ({
      userId: `user-${i % 7}`,
      conversationId: `chat-${i % 40}`,
      storageId: `turn-${i}`,
      role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
      content: `message ${i} ${'ü'.repeat(i % 13)}`,
      timestamp: 1_700_000_000_000 + i,
    }))
    for (let i = 0; i < turns.length; i += 500) await memory.importBatch({ turns: turns.slice(i, i + 500) })
    // A table without a key, with rows repeated: only the checkpoint can keep them from doubling.
    await db.exec('CREATE TABLE events (at INTEGER, kind TEXT, payload BLOB)')
    for (let i = 0; i < 1500; i++) {
      await db.run('INSERT INTO events VALUES (?, ?, ?)', [
        i % 100,
        i % 3 === 0 ? null : `k${i % 5}`,
        new Uint8Array([i % 256, 0, 255]),
      ])
    }
  })

  for (const [table, pauseAt] of [
    [TURNS_TABLE, 9],
    ['events', 6],
  ] as const) {
    it(`inside ${table}: resume finishes with no duplicates and no gaps, and verifies`, async () => {
      const { name, url } = await env.schema()
      await killMidway({ mode: 'tables', source, target: url, table, pauseAt, batchSize: 100 })
      const target = env.postgres(name)
      // The killed batch (and any still in flight behind it) was inside its transaction: the
      // target holds exactly the rows the checkpoint names, whole batches only.
      const [checkpoint] = await target.all<{ copied: number; done: number }>(
        `SELECT copied, done FROM ${CHECKPOINT_TABLE} WHERE item = ?`,
        [`table:${table}`],
      )
      expect(checkpoint?.done).toBe(0)
      expect(checkpoint?.copied).toBeGreaterThan(0)
      expect(checkpoint?.copied).toBeLessThanOrEqual((pauseAt - 1) * 100)
      expect((checkpoint?.copied ?? 1) % 100).toBe(0)
      expect(await count(target, table)).toBe(checkpoint?.copied)

      await expect(migrate({ from: source, to: url })).rejects.toThrow(/stopped in .* rerun with resume/)
      const result = await migrate({ from: source, to: url, resume: true, verify: true, batchSize: 100 })
      expect(result.verified).toBe(true)
      expect(result.tables.find((t) => t.name === table)).toMatchObject({ status: 'resumed' })
      const sqlite = env.sqlite(source)
      expect(await count(target, 'events')).toBe(1500)
      expect(await count(target, TURNS_TABLE)).toBe(2400)
      expect((await checkParity(sqlite, target)).equal).toBe(true)

      const again = await migrate({ from: source, to: url, resume: true })
      expect(again.rows).toBe(0)
      expect(await count(target, 'events')).toBe(1500)
    })
  }

  it('inside a vector collection (sqlite-vector to pgvector): resume finishes and every vector is bit-exact', async () => {
    const path = env.file('vectors.db')
    const sqlite = env.sqlite(path)
    const store = createSqliteVectorStore({ adapter: sqlite })
    await store.createCollection('docs', { dimension: 24, metric: 'dot' })
    let seed = 7
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const records: VectorRecord[] = Array.from({ length: 1234 }, (_, i) => ({
      id: i % 10 === 0 ? `döc/${i} ✓` : `doc-${i}`,
      vector: Float32Array.from({ length: 24 }, () => (random() - 0.5) * 1e-3 * (i + 1)),
      metadata: { n: i, tags: [`t${i % 4}`], even: i % 2 === 0, name: `n${i % 9}` },
      ...(i % 3 === 0 ? {} : { text: `record ${i} about rye` }),
    }))
    await store.upsert('docs', records)

    const { name, url } = await env.schema()
    await killMidway({ mode: 'vectors', source: path, target: url, pauseAt: 5, batchSize: 100 })
    const target = env.postgres(name)
    const pgStore = createPgVectorStore({ adapter: target })
    expect(await pgStore.count('docs')).toBe(500)

    const result = await migrate({
      from: { storage: sqlite, vectors: store },
      to: { storage: target, vectors: pgStore },
      collections: ['docs'],
      resume: true,
      verify: true,
      batchSize: 100,
    })
    expect(result.verified).toBe(true)
    expect(result.collections).toEqual([{ name: 'docs', sourceRows: 1234, copied: 734, status: 'resumed' }])
    expect(await pgStore.describeCollection('docs')).toMatchObject({
      dimension: 24,
      metric: 'dot',
      count: 1234,
    })
    const sample = records.filter((_, i) => i % 97 === 0)
    const copies = await pgStore.get(
      'docs',
      sample.map((r) => r.id),
    )
    for (const [i, copy] of copies.entries()) {
      const original = sample[i] as VectorRecord
      expect(Buffer.from((copy.vector as Float32Array).buffer)).toEqual(
        Buffer.from((original.vector as Float32Array).buffer),
      )
      expect(copy.metadata).toEqual(original.metadata)
      expect(copy.text).toBe(original.text)
    }
    await pgStore.close()
  })
})
