import type { VectorMetric } from './vector-store.js'

/** Dot product of two equal-length vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number)
  return sum
}

/** Euclidean length of a vector. */
export function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a))
}

/**
 * The score every store reports for `metric`, higher is better: cosine similarity (0 when
 * either vector is all zeros), dot product, or negative Euclidean distance.
 */
export function similarity(metric: VectorMetric, a: Float32Array, b: Float32Array): number {
  if (metric === 'dot') return dot(a, b)
  if (metric === 'euclidean') {
    let sum = 0
    for (let i = 0; i < a.length; i++) {
      const d = (a[i] as number) - (b[i] as number)
      sum += d * d
    }
    return -Math.sqrt(sum)
  }
  const denominator = norm(a) * norm(b)
  return denominator === 0 ? 0 : dot(a, b) / denominator
}

/** Encodes a vector as little-endian Float32 bytes (the storage form in SQL stores). */
export function vectorToBytes(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i] as number, true)
  return bytes
}

/** Decodes little-endian Float32 bytes into a vector. */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}
