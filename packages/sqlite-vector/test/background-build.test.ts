import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { VectorRecord } from '@engram/core'
import { buildHnswIndex } from '@engram/hnsw-sidecar'
import { afterAll, describe, expect, it } from 'vitest'
import { type AnnIndexBuilder, createSqliteVectorStore, type SqliteVectorStore } from '../src/index.js'
import { openAdapter as open, vectors } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-ann-background-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const newDatabase = () => join(folder, `db-${++counter}.sqlite`)

const records = (list: Float32Array[], prefix = 'r'): VectorRecord[] =>
  list.map((vector, i) => ({ id: `${prefix}${i}`, vector }))

/** The sidecar's builder, held at a gate until the test opens it: a build that is still running. */
function gatedBuilder(): {
  build: AnnIndexBuilder
  open: () => void
  close: () => void
  started: () => number
} {
  let release: () => void = () => undefined
  let gate = new Promise<void>((resolve) => (release = resolve))
  let started = 0
  return {
    build: async (options, plan, settings) => {
      started++
      await gate
      return buildHnswIndex(options, plan, settings)
    },
    open: () => release(),
    close: () => {
      gate = new Promise<void>((resolve) => (release = resolve))
    },
    started: () => started,
  }
}

async function allIds(store: SqliteVectorStore, name: string): Promise<string[]> {
  const ids: string[] = []
  for await (const batch of store.scan(name, { batchSize: 1000 })) ids.push(...batch.map((r) => r.id))
  return ids.sort()
}

describe('sqlite-vector ANN index built in the background', () => {
  it('answers every query exactly while a build runs, without waiting for it', async () => {
    const path = newDatabase()
    const adapter = open(path)
    const gate = gatedBuilder()
    const store = createSqliteVectorStore({
      adapter,
      exactBelow: 100,
      ann: { path, backgroundAbove: 50, buildIndex: gate.build },
    })
    const exact = createSqliteVectorStore({ adapter })
    await store.createCollection('docs', { dimension: 16 })
    await store.upsert('docs', records(vectors(300, 16, 1)))
    const queries = vectors(10, 16, 2)
    // The build is held at its gate for all of these: each answer comes from exact search.
    for (const vector of queries) {
      expect(await store.query('docs', { vector, topK: 10 })).toEqual(
        await exact.query('docs', { vector, topK: 10 }),
      )
    }
    expect(await store.annStatus('docs')).toMatchObject({ open: false, building: true })
    expect(gate.started()).toBe(1)

    gate.open()
    await store.buildIndex('docs')
    expect(await store.annStatus('docs')).toMatchObject({
      open: true,
      building: false,
      size: 300,
      source: 'rebuilt',
    })

    // A large write catches the index up in the background too, from its file; meanwhile exact
    // search sees the new records at once.
    gate.close()
    await store.upsert('docs', records(vectors(200, 16, 3), 'n'))
    const probe = vectors(1, 16, 3)[0] as Float32Array
    const [during] = await store.query('docs', { vector: probe, topK: 1 })
    expect(during?.id).toBe('n0')
    expect(during?.score).toBeCloseTo(1, 12)
    expect(await store.annStatus('docs')).toMatchObject({ open: false, building: true })
    gate.open()
    await store.buildIndex('docs')
    const status = await store.annStatus('docs')
    expect(status).toMatchObject({ open: true, building: false, size: 500, source: 'file' })
    expect(status.appliedSequence).toBe(status.sequence)
    const [after] = await store.query('docs', { vector: probe, topK: 1 })
    expect(after?.id).toBe('n0')
    expect(after?.score).toBeCloseTo(1, 6)
    await store.close()
  })

  it('leaves the build to the querying store when writes are not to start it (a writer on lent transactions)', async () => {
    const path = newDatabase()
    const adapter = open(path)
    let writerBuilds = 0
    const settings = { exactBelow: 10, ann: { path, backgroundAbove: 10 } }
    const writer = createSqliteVectorStore({
      adapter,
      ...settings,
      ann: {
        ...settings.ann,
        buildAfterWrites: false,
        buildIndex: async (options, plan, build) => {
          writerBuilds++
          return buildHnswIndex(options, plan, build)
        },
      },
    })
    const reader = createSqliteVectorStore({ adapter, ...settings })
    await writer.createCollection('docs', { dimension: 8 })
    await writer.upsert('docs', records(vectors(100, 8, 9)))
    expect(await writer.annStatus('docs')).toMatchObject({ open: false, building: false })
    // The querying store starts it after the writes, without a query and without waiting for it.
    await reader.prepareIndex('docs')
    expect(await reader.annStatus('docs')).toMatchObject({ building: true })
    await reader.buildIndex('docs')
    expect(await reader.annStatus('docs')).toMatchObject({ open: true, size: 100, building: false })
    expect(writerBuilds).toBe(0)
    await writer.close()
    await reader.close()
  })

  it('takes a small backlog into an open index on prepareIndex(), and leaves a larger one to the next query', async () => {
    const path = newDatabase()
    const adapter = open(path)
    const settings = { exactBelow: 10, ann: { path, backgroundAbove: 200 } }
    const writer = createSqliteVectorStore({
      adapter,
      ...settings,
      ann: { ...settings.ann, buildAfterWrites: false },
    })
    const reader = createSqliteVectorStore({ adapter, ...settings })
    await writer.createCollection('docs', { dimension: 8 })
    await writer.upsert('docs', records(vectors(50, 8, 4)))
    await reader.buildIndex('docs')
    await writer.upsert('docs', records(vectors(3, 8, 5), 'a'))
    const behind = await reader.annStatus('docs')
    expect(behind.appliedSequence).toBeLessThan(behind.sequence)
    await reader.prepareIndex('docs')
    const caughtUp = await reader.annStatus('docs')
    expect(caughtUp).toMatchObject({ open: true, size: 53, building: false })
    expect(caughtUp.appliedSequence).toBe(caughtUp.sequence)
    // 70 records: more than prepareIndex() applies, fewer than a background catch-up needs.
    await writer.upsert('docs', records(vectors(70, 8, 6), 'b'))
    await reader.prepareIndex('docs')
    const left = await reader.annStatus('docs')
    expect(left).toMatchObject({ open: true, size: 53, building: false })
    expect(left.appliedSequence).toBeLessThan(left.sequence)
    const probe = vectors(70, 8, 6)[69] as Float32Array
    expect((await reader.query('docs', { vector: probe, topK: 1 }))[0]?.id).toBe('b69')
    expect(await reader.annStatus('docs')).toMatchObject({ size: 123 })
    await writer.close()
    await reader.close()
  })

  it('opens the index file on prepareIndex() after a reopen, rather than loading it in a worker while queries search exactly', async () => {
    const path = newDatabase()
    const settings = { exactBelow: 10, ann: { path, backgroundAbove: 20 } }
    const first = createSqliteVectorStore({ adapter: open(path), ...settings })
    await first.createCollection('docs', { dimension: 8 })
    await first.upsert('docs', records(vectors(50, 8, 7)))
    await first.buildIndex('docs')
    await first.close()

    const adapter = open(path)
    const writer = createSqliteVectorStore({
      adapter,
      ...settings,
      ann: { ...settings.ann, buildAfterWrites: false },
    })
    const reader = createSqliteVectorStore({ adapter, ...settings })
    // A write before this process's first query, as an agent that stores a message and then recalls.
    await writer.upsert('docs', records(vectors(1, 8, 8), 'new'))
    await reader.prepareIndex('docs')
    const status = await reader.annStatus('docs')
    expect(status).toMatchObject({ open: true, source: 'file', size: 51, building: false })
    expect(status.appliedSequence).toBe(status.sequence)
    const probe = vectors(1, 8, 8)[0] as Float32Array
    expect((await reader.query('docs', { vector: probe, topK: 1 }))[0]?.id).toBe('new0')
    await writer.close()
    await reader.close()
  })

  it('keeps answering exactly after a failed build, reports it, and builds on buildIndex()', async () => {
    const path = newDatabase()
    let allowed = false
    let calls = 0
    let failed: () => void = () => undefined
    const failure = new Promise<void>((resolve) => (failed = resolve))
    const store = createSqliteVectorStore({
      adapter: open(path),
      exactBelow: 10,
      ann: {
        path,
        backgroundAbove: 10,
        buildIndex: async (options, plan, settings) => {
          calls++
          if (allowed) return buildHnswIndex(options, plan, settings)
          // Resolved on the next turn of the event loop, once the store has taken the failure in.
          setImmediate(failed)
          throw new Error('disk full')
        },
      },
    })
    await store.createCollection('docs', { dimension: 8 })
    const data = vectors(100, 8, 4)
    await store.upsert('docs', records(data))
    await failure
    expect(await store.annStatus('docs')).toMatchObject({ open: false, building: false, error: 'disk full' })
    // Queries answer exactly and do not start another build by themselves.
    expect((await store.query('docs', { vector: data[7] as Float32Array, topK: 1 }))[0]?.id).toBe('r7')
    expect((await store.query('docs', { vector: data[8] as Float32Array, topK: 1 }))[0]?.id).toBe('r8')
    expect(calls).toBe(1)
    allowed = true
    await store.buildIndex('docs')
    expect(calls).toBe(2)
    const status = await store.annStatus('docs')
    expect(status).toMatchObject({ open: true, size: 100 })
    expect(status.error).toBeUndefined()
    await store.close()
  })

  it('stops a running build when the store closes or the collection is dropped', async () => {
    const path = newDatabase()
    const gate = gatedBuilder()
    const store = createSqliteVectorStore({
      adapter: open(path),
      exactBelow: 10,
      ann: { path, backgroundAbove: 10, buildIndex: gate.build },
    })
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(vectors(100, 8, 5)))
    await store.createCollection('other', { dimension: 8 })
    await store.upsert('other', records(vectors(100, 8, 6)))
    expect(gate.started()).toBe(2)
    const dropping = store.dropCollection('docs')
    gate.open()
    await dropping
    // Closing stops the other build and waits for it.
    await store.close()
    const reopened = createSqliteVectorStore({
      adapter: open(path),
      exactBelow: 10,
      ann: { path, backgroundAbove: 10 },
    })
    expect(await reopened.listCollections()).toEqual(['other'])
    await reopened.buildIndex('other')
    expect(await reopened.annStatus('other')).toMatchObject({ open: true, size: 100 })
    await reopened.close()
  })

  it('reuses deleted slots: churn of upserts and deletes keeps the index capacity flat', async () => {
    const store = createSqliteVectorStore({
      adapter: open(':memory:'),
      exactBelow: 1,
      ann: { path: ':memory:' },
    })
    await store.createCollection('docs', { dimension: 8 })
    const live = Array.from({ length: 400 }, (_, i) => `r${i}`)
    await store.upsert('docs', records(vectors(400, 8, 7)))
    await store.query('docs', { vector: vectors(1, 8, 8)[0] as Float32Array, topK: 1 })
    const { capacity } = await store.annStatus('docs')
    expect(capacity).toBeGreaterThanOrEqual(400)
    for (let round = 0; round < 50; round++) {
      // 20 records go and 20 new ones (new labels) come: the new ones take over the freed slots.
      await store.delete('docs', { ids: live.splice(0, 20) })
      const fresh = records(vectors(20, 8, 100 + round), `n${round}-`)
      await store.upsert('docs', fresh)
      live.push(...fresh.map((r) => r.id))
      await store.query('docs', { vector: vectors(1, 8, 200 + round)[0] as Float32Array, topK: 1 })
    }
    // 1,400 labels went through the index; without reuse it would have grown past 1,024 slots.
    const status = await store.annStatus('docs')
    expect(status.capacity).toBe(capacity)
    expect(status.size).toBe(400)
    const everything = await store.query('docs', { vector: vectors(1, 8, 9)[0] as Float32Array, topK: 1000 })
    expect(everything.map((m) => m.id).sort()).toEqual([...live].sort())
    await store.close()
  })

  for (const phase of ['fresh', 'extend'] as const) {
    it(`holds exactly the table's records after the process is killed during ${phase === 'fresh' ? 'a first' : 'a catch-up'} background build`, async () => {
      const path = newDatabase()
      const child = fork(
        fileURLToPath(new URL('./fixtures/crash-builder.mjs', import.meta.url)),
        [path, phase],
        {
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        },
      )
      const message = await new Promise<unknown>((resolve, reject) => {
        child.once('message', resolve)
        child.once('exit', (code) => reject(new Error(`the builder exited early with code ${code}`)))
      })
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
      child.kill('SIGKILL')
      expect(message).toBe('building')
      expect(await exited).toBe('SIGKILL')

      const store = createSqliteVectorStore({
        adapter: open(path),
        exactBelow: 50,
        ann: { path, backgroundAbove: 100 },
      })
      await store.buildIndex('docs')
      const expected = await allIds(store, 'docs')
      expect(expected).toHaveLength(phase === 'fresh' ? 2000 : 2050)
      const status = await store.annStatus('docs')
      expect(status).toMatchObject({ open: true, size: expected.length })
      expect(status.appliedSequence).toBe(status.sequence)
      const everything = await store.query('docs', {
        vector: vectors(1, 32, 9)[0] as Float32Array,
        topK: 3000,
      })
      expect(everything.map((m) => m.id).sort()).toEqual(expected)
      await store.close()
    }, 120_000)
  }
})
