import type { StorageAdapter } from '@engram/core'

/** A seeded PRNG (mulberry32) returning numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** `count` vectors with components uniform in [-1, 1). */
export function vectors(count: number, dimension: number, seed: number): Float32Array[] {
  const random = seeded(seed)
  return Array.from({ length: count }, () => Float32Array.from({ length: dimension }, () => random() * 2 - 1))
}

/** The same adapter reporting another full-text capability, as sql.js (FTS4 only) or a build without FTS would. */
export function withFts(adapter: StorageAdapter, fts: 'fts4' | false): StorageAdapter {
  return new Proxy(adapter, {
    get(target, key, receiver) {
      if (key === 'capabilities') return { ...target.capabilities, fts }
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
