import { describe, expect, it } from 'vitest'
import { reciprocalRankFusion } from '../src/index.js'

describe('reciprocalRankFusion', () => {
  it('sums 1/(k + rank) over the lists an id appears in', () => {
    const fused = reciprocalRankFusion([
      [{ id: 'a' }, { id: 'b' }],
      [{ id: 'b' }, { id: 'c' }],
    ])
    expect(fused.map((r) => r.id)).toEqual(['b', 'a', 'c'])
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 61, 12)
    expect(fused[0]?.ranks).toEqual([2, 1])
    expect(fused[2]?.ranks).toEqual([undefined, 2])
  })

  it('honours k, weights and limit', () => {
    const fused = reciprocalRankFusion([[{ id: 'a' }], [{ id: 'b' }]], { k: 0, weights: [1, 3], limit: 1 })
    expect(fused).toEqual([{ id: 'b', score: 3, ranks: [undefined, 1] }])
  })

  it('breaks ties by best rank and then by id, so the order is deterministic', () => {
    const fused = reciprocalRankFusion([
      [{ id: 'z' }, { id: 'y' }],
      [{ id: 'y' }, { id: 'z' }],
    ])
    expect(fused.map((r) => r.id)).toEqual(['y', 'z'])
  })

  it('counts an id repeated within one list only once', () => {
    const fused = reciprocalRankFusion([[{ id: 'a' }, { id: 'a' }]])
    expect(fused).toHaveLength(1)
    expect(fused[0]?.score).toBeCloseTo(1 / 61, 12)
  })
})
