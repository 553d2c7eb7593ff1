import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomVectors } from '@engram/conformance'
import { afterAll, describe, expect, it } from 'vitest'

// The build runs the compiled worker next to the compiled module, so these tests load the build;
// its types come from the source, so type-checking does not wait for the build.
const built = new URL('../dist/index.js', import.meta.url).href
const { buildHnswIndex, createHnswIndex } = (await import(built)) as typeof import('../src/index.js')

const folder = mkdtempSync(join(tmpdir(), 'engram-hnsw-build-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const newPath = () => join(folder, `index-${++counter}.hnsw`)

type Item = { label: number; vector: Float32Array }
const items = (list: Float32Array[], first = 0): Item[] =>
  list.map((vector, i) => ({ label: first + i, vector }))

async function* batches(all: Item[], size = 100): AsyncIterable<Item[]> {
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size)
}

describe('buildHnswIndex', () => {
  it('builds in a worker the same graph the main thread builds, and writes it with its checkpoint', async () => {
    const path = newPath()
    const data = items(randomVectors(600, 16, 1))
    const offered: Array<string | undefined> = []
    const built = await buildHnswIndex({ path, dimension: 16, metric: 'cosine' }, (checkpoint) => {
      offered.push(checkpoint)
      return { extend: false, items: batches(data), checkpoint: 'b@1' }
    })
    const local = await createHnswIndex({ dimension: 16, metric: 'cosine' })
    await local.add(data)
    expect(offered).toEqual([undefined])
    expect(built.size()).toBe(600)
    expect(built.checkpoint).toBe('b@1')
    // hnswlib's seeded levels make both builds the same graph, so they answer the same.
    for (const query of randomVectors(5, 16, 2)) {
      expect(await built.search(query, 10)).toEqual(await local.search(query, 10))
    }
    expect(JSON.parse(readFileSync(`${path}.json`, 'utf8')).checkpoint).toBe('b@1')
    expect(existsSync(`${path}.tmp`)).toBe(false)
    await built.close()
    const reopened = await createHnswIndex({ path, dimension: 16, metric: 'cosine' })
    expect(reopened.checkpoint).toBe('b@1')
    expect(reopened.size()).toBe(600)
    await reopened.close()
    await local.close()
  })

  it('extends the file from its checkpoint: adds, replaces and removes on top of it', async () => {
    const path = newPath()
    const first = items(randomVectors(300, 8, 3))
    await (
      await buildHnswIndex({ path, dimension: 8, metric: 'euclidean' }, () => ({
        extend: false,
        items: batches(first),
        checkpoint: 'e@1',
      }))
    ).close()
    const added = items(randomVectors(50, 8, 4), 300)
    const moved = { label: 7, vector: randomVectors(1, 8, 5)[0] as Float32Array }
    const offered: Array<string | undefined> = []
    const extended = await buildHnswIndex({ path, dimension: 8, metric: 'euclidean' }, (checkpoint) => {
      offered.push(checkpoint)
      return {
        extend: true,
        items: batches([...added, moved]),
        removed: async () => [0, 1, 2],
        checkpoint: 'e@2',
      }
    })
    expect(offered).toEqual(['e@1'])
    expect(extended.size()).toBe(347)
    const all = await extended.search(moved.vector, 347)
    expect(all[0]?.label).toBe(7)
    expect(all[0]?.score).toBeCloseTo(0, 6)
    expect(all.map((h) => h.label)).not.toContain(1)
    expect(all.map((h) => h.label)).toEqual(expect.arrayContaining([300, 349]))
    // The three freed slots are reused by the next new labels.
    const capacity = extended.capacity()
    await extended.add(items(randomVectors(3, 8, 6), 400))
    expect(extended.capacity()).toBe(capacity)
    await extended.close()
  })

  it('builds an in-memory index through a temporary file it removes', async () => {
    const before = readdirSync(tmpdir()).filter(
      (name) => name.startsWith('engram-hnsw-') && name.endsWith('.hnsw'),
    )
    const index = await buildHnswIndex({ dimension: 4, metric: 'dot' }, () => ({
      extend: true,
      items: batches(items(randomVectors(200, 4, 7))),
    }))
    expect(index.size()).toBe(200)
    expect(index.checkpoint).toBeUndefined()
    const after = readdirSync(tmpdir()).filter(
      (name) => name.startsWith('engram-hnsw-') && name.endsWith('.hnsw'),
    )
    expect(after.filter((name) => !before.includes(name))).toEqual([])
    await index.close()
  })

  it('stops when its signal aborts, leaving the file it started from as it was', async () => {
    const path = newPath()
    await (
      await buildHnswIndex({ path, dimension: 8, metric: 'cosine' }, () => ({
        extend: false,
        items: batches(items(randomVectors(100, 8, 8))),
        checkpoint: 'a@1',
      }))
    ).close()
    const written = readFileSync(path)
    const controller = new AbortController()
    async function* slow(): AsyncIterable<Item[]> {
      yield items(randomVectors(100, 8, 9), 100)
      controller.abort()
      yield items(randomVectors(100, 8, 10), 200)
    }
    await expect(
      buildHnswIndex(
        { path, dimension: 8, metric: 'cosine' },
        () => ({ extend: true, items: slow(), checkpoint: 'a@2' }),
        {
          signal: controller.signal,
        },
      ),
    ).rejects.toMatchObject({ code: 'CLOSED' })
    expect(readFileSync(path).equals(written)).toBe(true)
    expect(JSON.parse(readFileSync(`${path}.json`, 'utf8')).checkpoint).toBe('a@1')
    expect(existsSync(`${path}.tmp`)).toBe(false)
  })

  it('rejects a vector of the wrong dimension and leaves no temporary file', async () => {
    const path = newPath()
    await expect(
      buildHnswIndex({ path, dimension: 4, metric: 'cosine' }, () => ({
        extend: false,
        items: batches([{ label: 1, vector: new Float32Array(3) }]),
      })),
    ).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' })
    expect(existsSync(`${path}.tmp`)).toBe(false)
    expect(existsSync(path)).toBe(false)
  })
})
