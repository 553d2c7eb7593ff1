import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomVectors } from '@engram/conformance'
import { similarity, type VectorMetric } from '@engram/core'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createHnswIndex, removeHnswIndex } from '../src/index.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-hnsw-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))
let counter = 0
const newPath = () => join(folder, `index-${++counter}.hnsw`)

const vectors = randomVectors

const items = (list: Float32Array[], first = 0) => list.map((vector, i) => ({ label: first + i, vector }))

describe('createHnswIndex', () => {
  it('persist() flushes the index and its checkpoint to disk, and the folder after renaming them', async () => {
    const path = newPath()
    const index = await createHnswIndex({ path, dimension: 4, metric: 'cosine' })
    await index.add(items(vectors(10, 4, 3)))
    const probe = await open(path.replace(/\.hnsw$/, '.probe'), 'w')
    const handlePrototype = Object.getPrototypeOf(probe) as { sync(): Promise<void> }
    await probe.close()
    const sync = vi.spyOn(handlePrototype, 'sync')
    try {
      await index.persist('c1')
      // The index file, the checkpoint file, and the folder holding both.
      expect(sync).toHaveBeenCalledTimes(3)
    } finally {
      sync.mockRestore()
      await index.close()
    }
  })

  for (const metric of ['cosine', 'dot', 'euclidean'] as VectorMetric[]) {
    it(`reports ${metric} scores with the meaning of core's similarity`, async () => {
      const data = vectors(50, 8, 1)
      const index = await createHnswIndex({ dimension: 8, metric })
      await index.add(items(data))
      const query = vectors(1, 8, 2)[0] as Float32Array
      const hits = await index.search(query, 50)
      expect(hits).toHaveLength(50)
      for (const hit of hits) {
        const expected = similarity(metric, query, data[hit.label] as Float32Array)
        expect(Math.abs(hit.score - expected), `label ${hit.label}`).toBeLessThan(
          1e-4 * Math.max(1, Math.abs(expected)),
        )
      }
      // Best first, and the exact best is found on this small set.
      const best = data
        .map((v, label) => ({ label, score: similarity(metric, query, v) }))
        .sort((a, b) => b.score - a.score)
      expect(hits[0]?.label).toBe(best[0]?.label)
      await index.close()
    })
  }

  it('grows past its initial capacity by itself', async () => {
    const index = await createHnswIndex({ dimension: 4, metric: 'cosine', initialCapacity: 16 })
    await index.add(items(vectors(100, 4, 3)))
    await index.add(items(vectors(100, 4, 4), 100))
    expect(index.size()).toBe(200)
    await index.close()
  })

  it('removes labels from results at once and ignores unknown or repeated removals', async () => {
    const data = vectors(40, 4, 5)
    const index = await createHnswIndex({ dimension: 4, metric: 'euclidean' })
    await index.add(items(data))
    await index.remove([3, 3, 999])
    await index.remove([3])
    expect(index.size()).toBe(39)
    const hits = await index.search(data[3] as Float32Array, 40)
    expect(hits.map((h) => h.label)).not.toContain(3)
    expect(hits).toHaveLength(39)
    // Adding a removed label again revives it with its new vector.
    await index.add([{ label: 3, vector: data[7] as Float32Array }])
    const again = await index.search(data[7] as Float32Array, 2)
    expect(again.map((h) => h.label).sort()).toEqual([3, 7])
    await index.close()
  })

  it('reuses removed slots for new labels, so churn keeps its capacity flat', async () => {
    const index = await createHnswIndex({ dimension: 8, metric: 'cosine', initialCapacity: 256 })
    let next = 0
    const add = async (n: number) => {
      await index.add(items(vectors(n, 8, 100 + next), next))
      next += n
    }
    await add(200)
    const live = new Set(Array.from({ length: 200 }, (_, i) => i))
    for (let round = 0; round < 30; round++) {
      const gone = [...live].filter((_, i) => i % 4 === round % 4).slice(0, 50)
      await index.remove(gone)
      for (const label of gone) live.delete(label)
      const first = next
      await add(50)
      for (let label = first; label < next; label++) live.add(label)
    }
    // 1,700 labels came and went through 256 slots.
    expect(index.capacity()).toBe(256)
    expect(index.size()).toBe(200)
    const found = await index.search(vectors(1, 8, 1)[0] as Float32Array, 200)
    expect(new Set(found.map((h) => h.label))).toEqual(live)
    await index.close()
  })

  it('keeps reusing slots after persist and reopen, and revives a removed label in place', async () => {
    const path = newPath()
    const index = await createHnswIndex({ path, dimension: 4, metric: 'euclidean', initialCapacity: 64 })
    const data = vectors(64, 4, 11)
    await index.add(items(data))
    await index.remove([1, 2, 3, 4])
    await index.persist('r@1')
    await index.close()
    const reopened = await createHnswIndex({ path, dimension: 4, metric: 'euclidean' })
    expect(reopened.size()).toBe(60)
    // Label 2 comes back in its own slot; three new labels take the other freed slots.
    await reopened.add([{ label: 2, vector: data[9] as Float32Array }, ...items(vectors(3, 4, 12), 100)])
    expect(reopened.capacity()).toBe(64)
    expect(reopened.size()).toBe(64)
    const hits = await reopened.search(data[9] as Float32Array, 2)
    expect(hits.map((h) => h.label).sort((a, b) => a - b)).toEqual([2, 9])
    const all = await reopened.search(data[0] as Float32Array, 64)
    expect(all.map((h) => h.label)).not.toContain(1)
    expect(all.map((h) => h.label)).toEqual(expect.arrayContaining([100, 101, 102]))
    await reopened.close()
  })

  it('applies the label filter inside the search, so k still fills', async () => {
    const index = await createHnswIndex({ dimension: 8, metric: 'cosine' })
    await index.add(items(vectors(500, 8, 6)))
    const hits = await index.search(vectors(1, 8, 7)[0] as Float32Array, 20, (label) => label % 10 === 0)
    expect(hits).toHaveLength(20)
    for (const hit of hits) expect(hit.label % 10).toBe(0)
    await index.close()
  })

  it('persists with a checkpoint and reopens with the same contents and removals', async () => {
    const path = newPath()
    const data = vectors(300, 16, 8)
    const index = await createHnswIndex({ path, dimension: 16, metric: 'dot' })
    expect(index.checkpoint).toBeUndefined()
    await index.add(items(data))
    await index.remove([10, 20])
    await index.persist('abc@7')
    const query = vectors(1, 16, 9)[0] as Float32Array
    const before = await index.search(query, 10)
    await index.close()

    const reopened = await createHnswIndex({ path, dimension: 16, metric: 'dot' })
    expect(reopened.checkpoint).toBe('abc@7')
    expect(reopened.size()).toBe(298)
    expect(await reopened.search(query, 10)).toEqual(before)
    const near10 = await reopened.search(data[10] as Float32Array, 298)
    expect(near10.map((h) => h.label)).not.toContain(10)
    await reopened.close()
  })

  it('ignores a file written for another dimension or metric, or one whose checkpoint does not match it', async () => {
    const path = newPath()
    const index = await createHnswIndex({ path, dimension: 4, metric: 'cosine' })
    await index.add(items(vectors(10, 4, 10)))
    await index.persist('x@1')
    await index.close()

    const otherMetric = await createHnswIndex({ path, dimension: 4, metric: 'euclidean' })
    expect(otherMetric.checkpoint).toBeUndefined()
    expect(otherMetric.size()).toBe(0)
    await otherMetric.close()

    // A checkpoint whose recorded size no longer matches the index file is not trusted.
    const sidecar = JSON.parse(readFileSync(`${path}.json`, 'utf8'))
    writeFileSync(`${path}.json`, JSON.stringify({ ...sidecar, bytes: sidecar.bytes + 1 }))
    const mismatched = await createHnswIndex({ path, dimension: 4, metric: 'cosine' })
    expect(mismatched.checkpoint).toBeUndefined()
    expect(mismatched.size()).toBe(0)
    await mismatched.close()
  })

  it('keeps an in-memory index when no path is given, and removeHnswIndex deletes both files', async () => {
    const memory = await createHnswIndex({ path: ':memory:', dimension: 2, metric: 'cosine' })
    await memory.add([{ label: 1, vector: Float32Array.from([1, 0]) }])
    await memory.persist('m@1')
    expect(memory.checkpoint).toBe('m@1')
    await memory.close()

    const path = newPath()
    const index = await createHnswIndex({ path, dimension: 2, metric: 'cosine' })
    await index.add([{ label: 1, vector: Float32Array.from([1, 0]) }])
    await index.persist('f@1')
    await index.close()
    expect(statSync(path).size).toBeGreaterThan(0)
    await removeHnswIndex(path)
    expect(() => statSync(path)).toThrow()
    expect(() => statSync(`${path}.json`)).toThrow()
  })

  it('fails with CLOSED after close()', async () => {
    const index = await createHnswIndex({ dimension: 2, metric: 'cosine' })
    await index.close()
    await expect(index.search(Float32Array.from([1, 0]), 1)).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
