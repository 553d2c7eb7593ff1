import {
  type CollectionInfo,
  MAX_SCAN_BATCH,
  type StorageAdapter,
  type VectorRecord,
  type VectorStore,
} from '@engram/core'
import type { Checkpoint, CheckpointStore } from './checkpoint-store.js'
import { stableJson } from './table-checksum.js'
import type { ConflictPolicy } from './table-writer.js'

/** Options for `copyCollection`. */
export interface CopyCollectionOptions {
  readonly source: VectorStore
  readonly target: VectorStore
  readonly info: CollectionInfo
  /** Where checkpoints go (the target's SQL database), or `undefined` when the target has none. */
  readonly checkpoints: { store: CheckpointStore; db: StorageAdapter } | undefined
  readonly checkpoint: Checkpoint | undefined
  /** The target collection held records before this run (and no checkpoint says this migration wrote them). */
  readonly targetHadRecords: boolean
  readonly onConflict: ConflictPolicy
  readonly batchSize: number
  readonly onProgress: (done: number) => void
}

/** What copying one collection did. */
export interface CollectionCopy {
  /** Records this run upserted. */
  readonly written: number
  /** Source records this run read. */
  readonly read: number
}

/**
 * Copies a collection store to store: creates it with the source's dimension and metric, scans
 * the source and upserts each batch (ids, vectors, metadata and text as they are). Upserts are
 * idempotent by id, so a resumed run compares each batch with the target and writes only the
 * records that are missing or differ; a checkpoint (when the target has a SQL database) records
 * the count after every batch and marks the collection done at the end.
 */
export async function copyCollection(options: CopyCollectionOptions): Promise<CollectionCopy> {
  const { source, target, info } = options
  const item = `collection:${info.name}`
  await target.createCollection(info.name, { dimension: info.dimension, metric: info.metric })
  const compare = options.checkpoint !== undefined || options.targetHadRecords
  let done = 0
  let written = 0
  const batchSize = Math.min(options.batchSize, MAX_SCAN_BATCH)
  for await (const batch of source.scan(info.name, { batchSize })) {
    let records: VectorRecord[] = batch
    if (compare) {
      const present = new Map(
        (
          await target.get(
            info.name,
            batch.map((r) => r.id),
          )
        ).map((r) => [r.id, r]),
      )
      records = batch.filter((record) => {
        const existing = present.get(record.id)
        if (existing === undefined) return true
        // 'skip' keeps what the target had unless this migration itself wrote it (a checkpoint exists).
        if (options.onConflict === 'skip' && options.checkpoint === undefined) return false
        return !sameRecord(record, existing)
      })
    }
    if (records.length > 0) await target.upsert(info.name, records)
    written += records.length
    done += batch.length
    if (options.checkpoints) {
      const { store, db } = options.checkpoints
      await store.save(db, { item, lastKey: null, copied: done, done: false })
    }
    options.onProgress(done)
  }
  if (options.checkpoints) {
    const { store, db } = options.checkpoints
    await store.save(db, { item, lastKey: null, copied: done, done: true })
  }
  return { written, read: done }
}

/** Whether two records are the same bit for bit: id, every Float32 of the vector, metadata and text. */
export function sameRecord(a: VectorRecord, b: VectorRecord): boolean {
  if (a.id !== b.id || (a.text ?? null) !== (b.text ?? null)) return false
  const va = Float32Array.from(a.vector)
  const vb = Float32Array.from(b.vector)
  if (va.length !== vb.length) return false
  const ba = new Uint8Array(va.buffer)
  const bb = new Uint8Array(vb.buffer)
  for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) return false
  return stableJson(a.metadata ?? {}) === stableJson(b.metadata ?? {})
}
