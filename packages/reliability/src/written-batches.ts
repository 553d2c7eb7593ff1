import { createHash } from 'node:crypto'
import type { StorageAdapter } from '@engram/core'

/** What the workers acknowledged so far: batches written and batches deleted. */
export class AcknowledgedBatches {
  /** Batches acknowledged as written. */
  readonly written = new Set<number>()
  /** Batches acknowledged as deleted. */
  readonly deleted = new Set<number>()

  /** Records the acknowledgements of one round (`{ written: id }` or `{ deleted: id }`). */
  add(acks: readonly unknown[]): void {
    for (const ack of acks) {
      const message = ack as { written?: number; deleted?: number }
      if (message.written !== undefined) this.written.add(message.written)
      if (message.deleted !== undefined) this.deleted.add(message.deleted)
    }
  }
}

/** What a reopened database holds, measured against the acknowledgements. */
export interface BatchAudit {
  /** `PRAGMA integrity_check`'s answer: `'ok'` when the file is sound. */
  integrity: string
  /** Acknowledged batches that are neither present nor deleted by a committed delete. */
  lost: number[]
  /** Acknowledged deletes whose batch is back, or whose tombstone is missing. */
  resurrected: number[]
  /** Batches present with missing, extra or corrupted items, and items whose batch is gone. */
  torn: number[]
  /** Batches present that were committed but never acknowledged (the kill came first): allowed. */
  unacknowledged: number
  /** Batches present. */
  present: number
}

interface BatchRow {
  id: number
  items: number
}

interface ItemRow {
  batch: number
  idx: number
  payload: Uint8Array
  digest: string
}

/** Reads everything the sql-writer worker wrote and checks it against what it acknowledged. */
export async function auditBatches(db: StorageAdapter, acked: AcknowledgedBatches): Promise<BatchAudit> {
  const integrity = (await db.all<{ integrity_check: string }>('PRAGMA integrity_check'))
    .map((row) => row.integrity_check)
    .join('; ')
  const batches = new Map(
    (await db.all<BatchRow>('SELECT id, items FROM batches')).map((b) => [b.id, b.items]),
  )
  const tombstones = new Set((await db.all<{ id: number }>('SELECT id FROM deleted')).map((row) => row.id))
  const items = new Map<number, ItemRow[]>()
  for (const item of await db.all<ItemRow>('SELECT batch, idx, payload, digest FROM items')) {
    const list = items.get(item.batch) ?? []
    list.push(item)
    items.set(item.batch, list)
  }
  const torn = new Set<number>()
  for (const [id, count] of batches) {
    const list = items.get(id) ?? []
    const sound = list.every(
      (item) => createHash('sha256').update(item.payload).digest('hex') === item.digest,
    )
    if (list.length !== count || !sound || tombstones.has(id)) torn.add(id)
  }
  for (const id of items.keys()) if (!batches.has(id)) torn.add(id)
  const lost = [...acked.written].filter((id) => !batches.has(id) && !tombstones.has(id))
  const resurrected = [...acked.deleted].filter((id) => batches.has(id) || !tombstones.has(id))
  let unacknowledged = 0
  for (const id of batches.keys()) if (!acked.written.has(id)) unacknowledged++
  return { integrity, lost, resurrected, torn: [...torn], unacknowledged, present: batches.size }
}
