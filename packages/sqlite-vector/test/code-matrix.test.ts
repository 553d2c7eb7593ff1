import { describe, expect, it } from 'vitest'
import { CodeMatrix, queryCodeLimit } from '../src/code-matrix.js'
import { seeded } from './helpers.js'

/** The dot products written out, one integer sum per row. */
function reference(codes: Int8Array, stride: number, query: Int16Array, rows: readonly number[]): number[] {
  return rows.map((row) => {
    let sum = 0
    for (let x = 0; x < stride; x++) sum += (codes[row * stride + x] as number) * (query[x] as number)
    return sum
  })
}

/** A matrix of `count` rows of random codes (extremes included) and a random query at its limit. */
function filled(dimension: number, count: number, seed: number) {
  const random = seeded(seed)
  const matrix = new CodeMatrix(dimension, count)
  const code = () => (random() < 0.2 ? (random() < 0.5 ? -127 : 127) : Math.round(random() * 254) - 127)
  for (let row = 0; row < count; row++) {
    for (let x = 0; x < dimension; x++) matrix.codes[row * matrix.stride + x] = code()
  }
  const limit = queryCodeLimit(matrix.stride)
  const query = new Int16Array(matrix.stride)
  for (let x = 0; x < dimension; x++)
    query[x] = random() < 0.2 ? limit : Math.round((random() * 2 - 1) * limit)
  return { matrix, query }
}

describe('CodeMatrix', () => {
  it('runs in WebAssembly SIMD on Node once the rows fill a 64 KiB page, and in JavaScript below that', () => {
    expect(new CodeMatrix(384, 100).simd).toBe(false)
    expect(new CodeMatrix(384, 1000).simd).toBe(true)
  })

  for (const dimension of [1, 7, 8, 24, 384, 1536, 4096]) {
    it(`computes exact integer dot products at ${dimension} dimensions, worst-case magnitudes included`, () => {
      const count = Math.max(40, Math.ceil(70_000 / dimension))
      const { matrix, query } = filled(dimension, count, dimension)
      expect(matrix.simd).toBe(true)
      const all = Array.from({ length: count }, (_, i) => i)
      expect(Array.from(matrix.dots(query, count))).toEqual(
        reference(matrix.codes, matrix.stride, query, all),
      )
      const some = [count - 1, 0, 5, 5, Math.floor(count / 2)]
      expect(Array.from(matrix.dots(query, 0, Int32Array.from(some)))).toEqual(
        reference(matrix.codes, matrix.stride, query, some),
      )
      // Every code at its extreme with the query at its limit: the largest sum the limit allows.
      matrix.codes.fill(127)
      query.fill(queryCodeLimit(matrix.stride))
      const largest = 127 * queryCodeLimit(matrix.stride) * matrix.stride
      expect(largest).toBeLessThan(2 ** 31)
      expect(matrix.dots(query, 1)[0]).toBe(largest)
    })
  }

  it('gives the same products in JavaScript and in SIMD', () => {
    const small = filled(24, 200, 5)
    const large = new CodeMatrix(24, 4000)
    large.codes.set(small.matrix.codes)
    expect(small.matrix.simd).toBe(false)
    expect(large.simd).toBe(true)
    expect(Array.from(large.dots(small.query, 200))).toEqual(Array.from(small.matrix.dots(small.query, 200)))
  })

  it('keeps its rows, and zero padding, as it grows into WebAssembly memory and within it', () => {
    const { matrix, query } = filled(20, 100, 9)
    const before = Array.from(matrix.dots(query, 100))
    for (const capacity of [4000, 10_000, 40_000]) {
      matrix.grow(capacity)
      expect(matrix.simd).toBe(true)
      expect(Array.from(matrix.dots(query, 100))).toEqual(before)
      // The rows past the old ones hold only zeros, whatever scratch data sat there before.
      matrix.dots(query, capacity)
      const grown = matrix.dots(query, capacity)
      expect(grown.subarray(100).every((dot) => dot === 0)).toBe(true)
      for (let row = 100; row < 110; row++) {
        for (let x = 0; x < 20; x++) matrix.codes[row * matrix.stride + x] = 1
      }
      expect(matrix.dots(query, 110)[105]).toBe(query.subarray(0, 20).reduce((sum, q) => sum + q, 0))
      matrix.codes.fill(0, 100 * matrix.stride)
    }
  })
})
