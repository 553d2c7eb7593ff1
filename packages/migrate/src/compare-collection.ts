import { MAX_SCAN_BATCH, type VectorStore } from '@engram/core'
import type { Mismatch } from './check-parity.js'
import { sameRecord } from './copy-collection.js'

/**
 * Compares a collection in two stores record by record: the same dimension and metric, the
 * same count, and every source record present in the target with the same vector (bit for
 * bit), metadata and text. Returns what differs, or `undefined`.
 */
export async function compareCollection(
  source: VectorStore,
  target: VectorStore,
  name: string,
  batchSize: number,
  onProgress?: (done: number) => void,
): Promise<Mismatch | undefined> {
  const mismatch = (message: string): Mismatch => ({ kind: 'collection', name, message })
  const [a, b] = await Promise.all([source.describeCollection(name), target.describeCollection(name)])
  if (a === undefined) return mismatch(`${name} does not exist in the source`)
  if (b === undefined)
    return mismatch(`${name} is missing from the target (${a.count} records in the source)`)
  if (a.dimension !== b.dimension || a.metric !== b.metric) {
    return mismatch(
      `${name} is ${a.dimension}-dimension ${a.metric} in the source but ${b.dimension}-dimension ${b.metric} in the target`,
    )
  }
  let missing = 0
  let differ = 0
  const examples: string[] = []
  let done = 0
  onProgress?.(0)
  for await (const batch of source.scan(name, { batchSize: Math.min(batchSize, MAX_SCAN_BATCH) })) {
    const found = new Map(
      (
        await target.get(
          name,
          batch.map((r) => r.id),
        )
      ).map((r) => [r.id, r]),
    )
    for (const record of batch) {
      const other = found.get(record.id)
      if (other === undefined) missing++
      else if (!sameRecord(record, other)) differ++
      else continue
      if (examples.length < 3) examples.push(record.id)
    }
    done += batch.length
    onProgress?.(done)
  }
  if (missing > 0 || differ > 0) {
    return mismatch(
      `${name}: ${missing} records missing from the target and ${differ} that differ (for example ${examples.map((id) => JSON.stringify(id)).join(', ')})`,
    )
  }
  if (a.count !== b.count) {
    return mismatch(
      `${name} has ${a.count} records in the source but ${b.count} in the target (the target has extra records)`,
    )
  }
  return undefined
}
