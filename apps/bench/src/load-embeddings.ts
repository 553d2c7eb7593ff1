import { readFileSync } from 'node:fs'
import type { EmbeddingsSource } from './suite-options.js'

/**
 * Reads real embeddings for the vector suite. Two formats, chosen by extension:
 * - `.f32`: raw little-endian float32, one vector after another, no header; `dimension` is required.
 * - `.jsonl` (or `.ndjson`): one JSON array of numbers per line.
 * Every vector must have the same dimension and finite values; the error says which row does not.
 */
export function loadEmbeddings(source: EmbeddingsSource): { dimension: number; vectors: Float32Array[] } {
  if (source.path.endsWith('.f32')) {
    const dimension = source.dimension
    if (!dimension) throw new Error(`${source.path}: a .f32 file needs --dim <numbers per vector>`)
    const bytes = readFileSync(source.path)
    if (bytes.byteLength % (dimension * 4) !== 0) {
      throw new Error(
        `${source.path}: ${bytes.byteLength} bytes is not a whole number of ${dimension}-dimension float32 vectors`,
      )
    }
    // Copy into an aligned buffer: Node's file buffer may start at any byte offset.
    const all = new Float32Array(new Uint8Array(bytes).buffer)
    const vectors = Array.from({ length: all.length / dimension }, (_, i) =>
      all.slice(i * dimension, (i + 1) * dimension),
    )
    return { dimension, vectors: checked(source.path, vectors, dimension) }
  }
  if (source.path.endsWith('.jsonl') || source.path.endsWith('.ndjson')) {
    const lines = readFileSync(source.path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
    const vectors = lines.map((line, i) => {
      const parsed: unknown = JSON.parse(line)
      if (!Array.isArray(parsed)) throw new Error(`${source.path}: line ${i + 1} is not a JSON array`)
      return Float32Array.from(parsed as number[])
    })
    const dimension = source.dimension ?? vectors[0]?.length ?? 0
    return { dimension, vectors: checked(source.path, vectors, dimension) }
  }
  throw new Error(
    `${source.path}: use a .f32 file (raw float32, with --dim) or a .jsonl file (one JSON array per line)`,
  )
}

function checked(path: string, vectors: Float32Array[], dimension: number): Float32Array[] {
  if (vectors.length === 0) throw new Error(`${path}: no vectors`)
  vectors.forEach((v, i) => {
    if (v.length !== dimension)
      throw new Error(`${path}: vector ${i} has ${v.length} numbers, expected ${dimension}`)
    if (!v.every(Number.isFinite)) throw new Error(`${path}: vector ${i} has a NaN or infinite value`)
  })
  return vectors
}
