import { seededRandom } from '@engram/conformance'

/** A standard normal sample from a uniform source (Box–Muller). */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

/** Options for `clusteredVectors`. */
export interface ClusteredVectorsConfig {
  count: number
  dimension: number
  /** Seed of the points; use different seeds for data and queries. */
  seed: number
  /** Seed of the centres; data and queries share it so queries land near the data. Default is `1`. */
  centresSeed?: number
  /** Number of centres. Default is `200`. */
  centres?: number
  /** Standard deviation of a point around its centre, per dimension. Default is `0.6`. */
  spread?: number
}

/**
 * Points around random Gaussian centres, like embeddings of texts on a few hundred topics:
 * nearest neighbours are meaningful, unlike uniform noise, and ANN recall is neither trivial
 * nor hopeless. Seeded with the conformance suite's generator, so every run and every system
 * sees the same vectors.
 */
export function clusteredVectors(config: ClusteredVectorsConfig): Float32Array[] {
  const all: Float32Array[] = []
  for (const batch of clusteredBatches(config, 10_000)) all.push(...batch)
  return all
}

/**
 * The same points as `clusteredVectors`, in order, `batchSize` at a time, so a process can load
 * a large set without ever holding all of it.
 */
export function* clusteredBatches(
  config: ClusteredVectorsConfig,
  batchSize: number,
): Generator<Float32Array[]> {
  const { count, dimension, seed } = config
  const spread = config.spread ?? 0.6
  const centreRandom = seededRandom(config.centresSeed ?? 1)
  const centres = Array.from({ length: config.centres ?? 200 }, () =>
    Float32Array.from({ length: dimension }, () => gaussian(centreRandom)),
  )
  const random = seededRandom(seed)
  for (let start = 0; start < count; start += batchSize) {
    yield Array.from({ length: Math.min(batchSize, count - start) }, () => {
      const centre = centres[Math.floor(random() * centres.length)] as Float32Array
      return Float32Array.from(centre, (x) => x + spread * gaussian(random))
    })
  }
}
