import type { PineconeRecord } from '@pinecone-database/pinecone'
import { byteLength, type EncodedRecord } from './pinecone-record.js'

/** Records per upsert, fetch or delete request: Pinecone's limit. */
export const MAX_RECORDS_PER_REQUEST = 1_000
/** Bytes per upsert request body: Pinecone's 2 MB, counted in decimal so either reading holds. */
export const MAX_REQUEST_BYTES = 2_000_000
/** Characters of encoded ids per fetch URL, well inside what HTTP servers accept in a request line. */
export const MAX_FETCH_URL_IDS = 8_000

/**
 * Splits encoded records into upsert requests of at most 1,000 records and 2 MB of body each.
 * The body size is counted exactly as the client serialises it: `{"vectors":[…],"namespace":…}`.
 */
export function upsertBatches(records: readonly EncodedRecord[], namespace: string): PineconeRecord[][] {
  const overhead = byteLength(JSON.stringify({ vectors: [], namespace }))
  const batches: PineconeRecord[][] = []
  let batch: PineconeRecord[] = []
  let bytes = overhead
  for (const { record, bytes: size } of records) {
    const separator = batch.length === 0 ? 0 : 1
    if (
      batch.length > 0 &&
      (batch.length >= MAX_RECORDS_PER_REQUEST || bytes + separator + size > MAX_REQUEST_BYTES)
    ) {
      batches.push(batch)
      batch = []
      bytes = overhead
    }
    bytes += (batch.length === 0 ? 0 : 1) + size
    batch.push(record)
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}

/** Splits ids into fetch requests of at most 1,000 ids whose encoded form fits one URL. */
export function fetchChunks(ids: readonly string[]): string[][] {
  const chunks: string[][] = []
  let chunk: string[] = []
  let length = 0
  for (const id of ids) {
    const size = encodeURIComponent(id).length + '&ids='.length
    if (chunk.length > 0 && (chunk.length >= MAX_RECORDS_PER_REQUEST || length + size > MAX_FETCH_URL_IDS)) {
      chunks.push(chunk)
      chunk = []
      length = 0
    }
    chunk.push(id)
    length += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

/** Splits ids into delete requests of at most 1,000. */
export function deleteChunks(ids: readonly string[]): string[][] {
  const chunks: string[][] = []
  for (let start = 0; start < ids.length; start += MAX_RECORDS_PER_REQUEST) {
    chunks.push(ids.slice(start, start + MAX_RECORDS_PER_REQUEST))
  }
  return chunks
}
