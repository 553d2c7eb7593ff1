import { fork } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { similarity, type VectorRecord } from '@engram/core'
import { afterAll, describe, expect, it } from 'vitest'
import { createSqliteVectorStore, type SqliteVectorStore } from '../src/index.js'
import { openAdapter as open, seeded, vectors } from './helpers.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-ann-tier-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const newDatabase = () => join(folder, `db-${++counter}.sqlite`)

function openStore(path: string, exactBelow = 1): SqliteVectorStore {
  return createSqliteVectorStore({ adapter: open(path), ann: { path }, exactBelow })
}

const records = (list: Float32Array[], prefix = 'r'): VectorRecord[] =>
  list.map((vector, i) => ({ id: `${prefix}${i}`, vector }))

async function allIds(store: SqliteVectorStore, name: string): Promise<string[]> {
  const ids: string[] = []
  for await (const batch of store.scan(name, { batchSize: 500 })) ids.push(...batch.map((r) => r.id))
  return ids.sort()
}

function checkpointSequence(indexPath: string): number {
  const { checkpoint } = JSON.parse(readFileSync(`${indexPath}.json`, 'utf8')) as { checkpoint: string }
  return Number(checkpoint.slice(checkpoint.lastIndexOf('@') + 1))
}

describe('sqlite-vector ANN tier', () => {
  it('stays exact below exactBelow and switches to the index when a collection reaches it', async () => {
    const path = newDatabase()
    const store = openStore(path, 100)
    await store.createCollection('docs', { dimension: 8 })
    const data = vectors(100, 8, 1)
    await store.upsert('docs', records(data.slice(0, 99)))
    await store.query('docs', { vector: data[0] as Float32Array, topK: 3 })
    expect((await store.annStatus('docs')).open).toBe(false)
    expect(existsSync(`${path}.docs.hnsw`)).toBe(false)

    await store.upsert('docs', records(data).slice(99))
    await store.query('docs', { vector: data[0] as Float32Array, topK: 3 })
    const status = await store.annStatus('docs')
    expect(status).toMatchObject({ open: true, source: 'rebuilt', size: 100, path: `${path}.docs.hnsw` })
    expect(status.appliedSequence).toBe(status.sequence)
    expect(existsSync(`${path}.docs.hnsw`)).toBe(true)
    await store.close()
  })

  it('names index files so they fit a file name: a 200-character database name with a 63-character collection', async () => {
    const path = join(folder, `${'d'.repeat(200)}.sqlite`)
    const collection = `c${'x'.repeat(62)}`
    const store = openStore(path)
    await store.createCollection(collection, { dimension: 8 })
    const data = vectors(20, 8, 9)
    await store.upsert(collection, records(data))
    const [best] = await store.query(collection, { vector: data[3] as Float32Array, topK: 1 })
    expect(best?.id).toBe('r3')
    await store.close()
    const files = readdirSync(folder).filter(
      (name) => name.startsWith('d'.repeat(200)) && name.endsWith('.hnsw'),
    )
    expect(files).toHaveLength(1)
    expect(Buffer.byteLength(files[0] as string)).toBeLessThanOrEqual(255 - '.json.tmp'.length)
    // A reopened store finds the same file and loads it instead of rebuilding.
    const again = openStore(path)
    await again.query(collection, { vector: data[3] as Float32Array, topK: 1 })
    expect(await again.annStatus(collection)).toMatchObject({
      source: 'file',
      path: join(folder, files[0] as string),
    })
    await again.close()
  })

  it("returns scores within 1e-6 of the exact scan's, best first, with recall@10 of at least 0.95", async () => {
    const data = vectors(3000, 32, 2)
    const exact = createSqliteVectorStore({ adapter: open(':memory:') })
    const ann = createSqliteVectorStore({
      adapter: open(':memory:'),
      ann: { path: ':memory:' },
      exactBelow: 1000,
    })
    for (const store of [exact, ann]) {
      await store.createCollection('docs', { dimension: 32, metric: 'euclidean' })
      await store.upsert('docs', records(data))
    }
    await ann.buildIndex('docs')
    let found = 0
    for (const query of vectors(20, 32, 3)) {
      const truth = await exact.query('docs', { vector: query, topK: 10 })
      const approx = await ann.query('docs', { vector: query, topK: 10 })
      const wanted = new Set(truth.map((m) => m.id))
      found += approx.filter((m) => wanted.has(m.id)).length
      for (const match of approx) {
        const stored = data[Number(match.id.slice(1))] as Float32Array
        const exactScore = similarity('euclidean', query, stored)
        expect(Math.abs(match.score - exactScore)).toBeLessThanOrEqual(
          1e-6 * Math.max(1, Math.abs(exactScore)),
        )
      }
      expect(approx.map((m) => m.score)).toEqual(approx.map((m) => m.score).sort((a, b) => b - a))
    }
    expect((await ann.annStatus('docs')).open).toBe(true)
    expect(found / 200).toBeGreaterThanOrEqual(0.95)
    await exact.close()
    await ann.close()
  })

  it('applies filters inside the ANN search, so topK fills with matching records', async () => {
    const store = openStore(':memory:', 100)
    await store.createCollection('docs', { dimension: 16 })
    const data = vectors(2000, 16, 4)
    await store.upsert(
      'docs',
      data.map((vector, i) => ({
        id: `r${i}`,
        vector,
        metadata: { group: i % 4, tags: i % 8 === 0 ? ['x'] : [] },
      })),
    )
    await store.buildIndex('docs')
    const query = vectors(1, 16, 5)[0] as Float32Array
    const matches = await store.query('docs', { vector: query, topK: 50, filter: { group: 2 } })
    expect((await store.annStatus('docs')).open).toBe(true)
    expect(matches).toHaveLength(50)
    for (const match of matches) expect(match.metadata?.group).toBe(2)
    // A selective filter (250 rows of 2000, above the threshold) also fills topK.
    const tagged = await store.query('docs', { vector: query, topK: 30, filter: { tags: 'x' } })
    expect(tagged).toHaveLength(30)
    for (const match of tagged) expect(match.metadata?.tags).toEqual(['x'])
    await store.close()
  })

  it('never returns fewer records than match: a filtered graph walk that runs short is answered exactly', async () => {
    // Sixty vectors that share most of their sparse "words", as short texts through a hashing
    // embedder look. Among such near-twins the graph's neighbour pruning leaves a filtered walk
    // few paths: on this data the walk alone returned 43 of the 45 records n < 45 selects.
    const dimension = 64
    const random = seeded(5)
    const word = () => {
      const v = new Float32Array(dimension)
      for (let j = 0; j < 3; j++) {
        const at = Math.floor(random() * dimension)
        v[at] = (v[at] as number) + (random() < 0.5 ? -1 : 1)
      }
      return v
    }
    const sum = (parts: Float32Array[]) =>
      Float32Array.from({ length: dimension }, (_, j) =>
        parts.reduce((total, v) => total + (v[j] as number), 0),
      )
    const shared = [word(), word(), word(), word()]
    const twins = Array.from({ length: 60 }, (_, i) => ({
      id: `t${String(i).padStart(2, '0')}`,
      vector: sum([...shared, word()]),
      metadata: { n: i },
    }))
    const path = newDatabase()
    const store = openStore(path)
    const exact = createSqliteVectorStore({ adapter: open(path), exactBelow: 1_000_000 })
    await store.createCollection('docs', { dimension })
    await store.upsert('docs', twins)
    await store.buildIndex('docs')
    const query = sum([shared[0], shared[2], shared[3]] as Float32Array[])
    for (const below of [20, 30, 45]) {
      const q = { vector: query, topK: 60, filter: { n: { $lt: below } } }
      const matches = await store.query('docs', q)
      expect(matches).toHaveLength(below)
      // The same records with the same scores (the graph's Float32 scores to six digits).
      const truth = new Map((await exact.query('docs', q)).map((m) => [m.id, m.score]))
      for (const match of matches) expect(match.score).toBeCloseTo(truth.get(match.id) as number, 6)
      expect(new Set(matches.map((m) => m.id))).toEqual(new Set(truth.keys()))
    }
    expect((await store.annStatus('docs')).open).toBe(true)
    await store.close()
    await exact.close()
  })

  it('shows deletes and re-upserts in the very next query', async () => {
    const store = openStore(':memory:')
    await store.createCollection('docs', { dimension: 8 })
    const data = vectors(300, 8, 6)
    await store.upsert('docs', records(data))
    const query = data[42] as Float32Array
    const before = await store.query('docs', { vector: query, topK: 5 })
    expect(before[0]?.id).toBe('r42')

    await store.delete('docs', { ids: ['r42'] })
    const after = await store.query('docs', { vector: query, topK: 300 })
    expect(after.map((m) => m.id)).not.toContain('r42')
    expect(after).toHaveLength(299)
    expect((await store.annStatus('docs')).size).toBe(299)

    // r7 moves to where r42 was; r42 comes back somewhere else.
    await store.upsert('docs', [
      { id: 'r7', vector: query },
      { id: 'r42', vector: data[100] as Float32Array },
    ])
    expect((await store.query('docs', { vector: query, topK: 1 }))[0]).toMatchObject({ id: 'r7', score: 1 })
    const near100 = await store.query('docs', { vector: data[100] as Float32Array, topK: 2 })
    expect(near100.map((m) => m.id).sort()).toEqual(['r100', 'r42'])
    await store.close()
  })

  it('keeps 1,000 × 1,536 vectors across close and reopen with the index loaded from its file', async () => {
    const path = newDatabase()
    const data = vectors(1000, 1536, 7)
    const store = openStore(path, 1000)
    await store.createCollection('big', { dimension: 1536 })
    for (let i = 0; i < data.length; i += 250)
      await store.upsert(
        'big',
        records(data.slice(i, i + 250)).map((r, j) => ({ ...r, id: `r${i + j}` })),
      )
    await store.buildIndex('big')
    expect((await store.query('big', { vector: data[5] as Float32Array, topK: 1 }))[0]?.id).toBe('r5')
    expect((await store.annStatus('big')).source).toBe('rebuilt')
    await store.close()
    const indexPath = `${path}.big.hnsw`
    const written = statSync(indexPath).mtimeMs

    const reopened = openStore(path, 1000)
    expect(await reopened.describeCollection('big')).toMatchObject({ dimension: 1536, count: 1000 })
    for (const i of [0, 333, 999]) {
      const [top] = await reopened.query('big', {
        vector: data[i] as Float32Array,
        topK: 1,
        includeVectors: true,
      })
      expect(top?.id).toBe(`r${i}`)
      expect(top?.score).toBeCloseTo(1, 6)
      expect(top?.vector).toEqual(data[i])
    }
    expect(await reopened.annStatus('big')).toMatchObject({ open: true, source: 'file', size: 1000 })
    await reopened.close()
    expect(statSync(indexPath).mtimeMs).toBe(written)
  }, 60_000)

  it('gives two databases in one folder separate indexes', async () => {
    const sub = join(folder, 'pair')
    const [a, b] = [join(sub, 'a.db'), join(sub, 'b.db')]
    const left = openStore(a)
    const right = openStore(b)
    for (const [store, prefix, seed] of [
      [left, 'left', 8],
      [right, 'right', 9],
    ] as const) {
      await store.createCollection('docs', { dimension: 8 })
      await store.upsert('docs', records(vectors(50, 8, seed), prefix))
      await store.query('docs', { vector: vectors(1, 8, 10)[0] as Float32Array, topK: 1 })
      await store.close()
    }
    expect(
      readdirSync(sub)
        .filter((f) => f.endsWith('.hnsw'))
        .sort(),
    ).toEqual(['a.db.docs.hnsw', 'b.db.docs.hnsw'])
    for (const [path, prefix] of [
      [a, 'left'],
      [b, 'right'],
    ] as const) {
      const store = openStore(path)
      const matches = await store.query('docs', { vector: vectors(1, 8, 11)[0] as Float32Array, topK: 50 })
      expect(matches).toHaveLength(50)
      for (const match of matches) expect(match.id.startsWith(prefix)).toBe(true)
      expect((await store.annStatus('docs')).source).toBe('file')
      await store.close()
    }
  })

  it('catches up from the database after the writer is killed with SIGKILL, without a rebuild', async () => {
    const path = newDatabase()
    const indexPath = `${path}.docs.hnsw`
    const child = fork(fileURLToPath(new URL('./fixtures/crash-writer.mjs', import.meta.url)), [path], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', (code) => reject(new Error(`the writer exited early with code ${code}`)))
    })
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')

    const store = openStore(path, 50)
    const sequence = (await store.annStatus('docs')).sequence
    const checkpoint = checkpointSequence(indexPath)
    // The file is behind the database: the changes after the first search never reached it.
    expect(checkpoint).toBeLessThan(sequence)
    const written = statSync(indexPath).mtimeMs

    const expected = await allIds(store, 'docs')
    expect(expected).toHaveLength(460)
    const everything = await store.query('docs', { vector: vectors(1, 16, 99)[0] as Float32Array, topK: 460 })
    expect(everything.map((m) => m.id).sort()).toEqual(expected)
    expect(await store.annStatus('docs')).toMatchObject({
      open: true,
      source: 'file',
      appliedSequence: sequence,
    })

    const replaced = vectors(20, 16, 3)
    for (let i = 0; i < replaced.length; i++) {
      const [top] = await store.query('docs', { vector: replaced[i] as Float32Array, topK: 1 })
      expect(top).toMatchObject({ id: `a${i * 5 + 1}` })
      expect(top?.score).toBeCloseTo(1, 6)
    }
    const deleted = new Set(Array.from({ length: 40 }, (_, i) => `a${i * 5}`))
    const first = vectors(300, 16, 1)
    const probe = await store.query('docs', { vector: first[0] as Float32Array, topK: 20 })
    for (const match of probe) expect(deleted.has(match.id)).toBe(false)
    // Caught up in memory, not rebuilt: the index file was not rewritten.
    expect(statSync(indexPath).mtimeMs).toBe(written)
    await store.close()
    expect(checkpointSequence(indexPath)).toBe(sequence)
  }, 60_000)

  it('sees writes made by another store on the same database, with or without tombstones', async () => {
    const path = newDatabase()
    const data = vectors(100, 8, 13)
    const store = openStore(path)
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(data))
    expect(await store.query('docs', { vector: data[0] as Float32Array, topK: 100 })).toHaveLength(100)

    const other = createSqliteVectorStore({ adapter: open(path) })
    await other.delete('docs', { ids: ['r0', 'r1'] })
    await other.upsert('docs', [{ id: 'new', vector: data[0] as Float32Array }])
    await other.close()

    const matches = await store.query('docs', { vector: data[0] as Float32Array, topK: 99 })
    expect(matches).toHaveLength(99)
    expect(matches[0]?.id).toBe('new')
    expect(matches.map((m) => m.id)).not.toContain('r0')
    await store.close()
  })

  it('rebuilds instead of trusting an index that cannot catch up', async () => {
    const path = newDatabase()
    const data = vectors(100, 8, 12)
    const store = openStore(path)
    await store.createCollection('docs', { dimension: 8 })
    await store.upsert('docs', records(data))
    await store.query('docs', { vector: data[0] as Float32Array, topK: 1 })
    await store.close()

    // A store without the ANN tier keeps no tombstones for its deletes, so the index must rebuild.
    const plain = createSqliteVectorStore({ adapter: open(path) })
    await plain.delete('docs', { ids: ['r0', 'r1'] })
    await plain.close()
    const after = openStore(path)
    const matches = await after.query('docs', { vector: data[0] as Float32Array, topK: 100 })
    expect(matches.map((m) => m.id)).not.toContain('r0')
    expect(matches).toHaveLength(98)
    expect(await after.annStatus('docs')).toMatchObject({ source: 'rebuilt', size: 98 })

    // A dropped and recreated namesake never reuses the old file.
    await after.dropCollection('docs')
    expect(existsSync(`${path}.docs.hnsw`)).toBe(false)
    await after.createCollection('docs', { dimension: 8 })
    await after.upsert('docs', records(data.slice(0, 10), 'n'))
    const fresh = await after.query('docs', { vector: data[0] as Float32Array, topK: 100 })
    expect(fresh.map((m) => m.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `n${i}`).sort())
    await after.close()
  })
})
