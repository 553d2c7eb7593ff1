import { randomVectors } from '@engram/conformance'
import { similarity, type VectorMetric } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { storeOn, uniqueCollection, useServer } from './pinecone-test-env.js'

const server = await useServer([
  { name: 'cosine', dimension: 10 },
  { name: 'dot', dimension: 10, metric: 'dotproduct' },
  { name: 'l2', dimension: 10, metric: 'euclidean' },
])

const INDEXES: ReadonlyArray<[VectorMetric, string]> = [
  ['cosine', 'cosine'],
  ['dot', 'dot'],
  ['euclidean', 'l2'],
]

describe('Pinecone store: scores', () => {
  for (const [metric, index] of INDEXES) {
    it(`on a ${metric} index, scores equal core's similarity() and rank best first`, async () => {
      const store = storeOn(server, index, { metric, padSmallerDimensions: true })
      const name = uniqueCollection()
      await store.createCollection(name, { dimension: 8, metric })
      const vectors = randomVectors(60, 8, 31)
      await store.upsert(
        name,
        vectors.map((vector, i) => ({ id: `r${i}`, vector })),
      )
      const query = randomVectors(1, 8, 32)[0] as Float32Array
      const matches = await store.query(name, { vector: query, topK: 60 })
      const expected = vectors
        .map((vector, i) => ({ id: `r${i}`, score: similarity(metric, query, vector) }))
        .sort((a, b) => b.score - a.score)
      expect(matches.map((m) => m.id)).toEqual(expected.map((e) => e.id))
      for (const [i, match] of matches.entries())
        expect(match.score).toBeCloseTo(expected[i]?.score as number, 4)
      await store.close()
    })
  }

  it('euclidean reports the negative distance, not Pinecone’s squared distance', async () => {
    const store = storeOn(server, 'l2', { metric: 'euclidean', padSmallerDimensions: true })
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 3, metric: 'euclidean' })
    await store.upsert(name, [{ id: 'a', vector: [3, 4, 0] }])
    const [match] = await store.query(name, { vector: [0, 0, 0] })
    expect(match?.score).toBeCloseTo(-5, 5)
    await store.close()
  })

  it('an all-zero query under cosine scores every match 0, as core does', async () => {
    const store = storeOn(server, 'cosine', { padSmallerDimensions: true })
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 3 })
    await store.upsert(name, [
      { id: 'a', vector: [1, 0, 0] },
      { id: 'b', vector: [0, -2, 1] },
    ])
    const matches = await store.query(name, { vector: [0, 0, 0], topK: 5 })
    expect(matches.map((m) => m.id).sort()).toEqual(['a', 'b'])
    expect(matches.map((m) => m.score)).toEqual([0, 0])
    await store.close()
  })

  it('an all-zero record scores 0 under dot product', async () => {
    const store = storeOn(server, 'dot', { metric: 'dot', padSmallerDimensions: true })
    const name = uniqueCollection()
    await store.createCollection(name, { dimension: 3, metric: 'dot' })
    await store.upsert(name, [{ id: 'zero', vector: [0, 0, 0] }])
    const [match] = await store.query(name, { vector: [5, 6, 7] })
    expect(match).toMatchObject({ id: 'zero', score: 0 })
    await store.close()
  })
})
