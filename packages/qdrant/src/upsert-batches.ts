import type { Schemas } from '@qdrant/js-client-rest'
import { TEXT_VECTOR } from './qdrant-points.js'

/** Points per upsert request. */
const UPSERT_POINTS = 256
/** JSON bytes per upsert request: far under Qdrant's default limit of 32 MB (`service.max_request_size_mb`). */
const UPSERT_BYTES = 8 * 1024 * 1024

/** Splits points into upsert requests of at most `UPSERT_POINTS` points and about `UPSERT_BYTES` of JSON. */
export function* upsertBatches(
  points: Schemas['PointStruct'][],
  dimension: number,
): Generator<Schemas['PointStruct'][]> {
  let batch: Schemas['PointStruct'][] = []
  let bytes = 0
  for (const point of points) {
    // An upper bound on the JSON size: 24 characters per vector component, the payload as UTF-8.
    const size = 64 + 24 * dimension + Buffer.byteLength(JSON.stringify(point.payload)) + sparseSize(point)
    if (batch.length > 0 && (batch.length === UPSERT_POINTS || bytes + size > UPSERT_BYTES)) {
      yield batch
      batch = []
      bytes = 0
    }
    batch.push(point)
    bytes += size
  }
  if (batch.length > 0) yield batch
}

function sparseSize(point: Schemas['PointStruct']): number {
  const sparse = (point.vector as Record<string, unknown>)[TEXT_VECTOR] as Schemas['SparseVector'] | undefined
  return sparse ? 16 * sparse.indices.length : 0
}
