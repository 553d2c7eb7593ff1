import { similarity, type VectorMetric } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { createExactScorer } from '../src/exact-scorer.js'
import { vectors } from './helpers.js'

describe('createExactScorer', () => {
  for (const metric of ['cosine', 'dot', 'euclidean'] as VectorMetric[]) {
    it(`gives bit-for-bit core's similarity for ${metric}, zero vectors included`, () => {
      const data = [...vectors(200, 37, 1), new Float32Array(37)]
      for (const query of [...vectors(5, 37, 2), new Float32Array(37)]) {
        const score = createExactScorer(metric, query)
        for (const v of data) expect(score(v)).toBe(similarity(metric, query, v))
      }
    })
  }
})
