import { StorageError } from '@engram/core'
import type { Embedder } from './embedder.js'

/** Options for `createLocalEmbedder`. */
export interface LocalEmbedderConfig {
  /** Length of every vector. Default is `384`. */
  dimensions?: number
  /** Weight of character trigrams against whole words; trigrams catch typos and word forms. Default is `0.5`. */
  trigramWeight?: number
}

/**
 * A deterministic, offline embedder for tests, demos and air-gapped use. It is lexical, not
 * semantic: it hashes words and character trigrams into a fixed-size vector (the "hashing
 * trick"), so texts that share words score high and paraphrases with different words do
 * not. Use a real embedding model when meaning matters.
 */
export function createLocalEmbedder(config: LocalEmbedderConfig = {}): Embedder {
  const dimensions = config.dimensions ?? 384
  const trigramWeight = config.trigramWeight ?? 0.5
  if (!Number.isInteger(dimensions) || dimensions < 8 || dimensions > 65_535) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `dimensions must be an integer from 8 to 65535, got ${dimensions}`,
    )
  }
  return async (texts) => {
    if (!Array.isArray(texts))
      throw new StorageError('INVALID_ARGUMENT', 'The embedder takes an array of strings')
    return texts.map((text) => embedOne(String(text), dimensions, trigramWeight))
  }
}

function embedOne(text: string, dimensions: number, trigramWeight: number): Float32Array {
  const vector = new Float32Array(dimensions)
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  for (const word of words) {
    add(vector, `w:${word}`, 1)
    const padded = ` ${word} `
    for (let i = 0; i + 3 <= padded.length; i++) add(vector, `t:${padded.slice(i, i + 3)}`, trigramWeight)
  }
  let norm = 0
  for (let i = 0; i < dimensions; i++) norm += (vector[i] as number) ** 2
  norm = Math.sqrt(norm)
  if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] as number) / norm
  return vector
}

/** Adds `weight` to one bucket chosen by hashing `feature`, with a hashed sign so collisions cancel out on average. */
function add(vector: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature)
  const bucket = h % vector.length
  vector[bucket] = (vector[bucket] as number) + ((h >>> 31) & 1 ? -weight : weight)
}

/** 32-bit FNV-1a over UTF-16 code units: fast, deterministic, well spread for short keys. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
