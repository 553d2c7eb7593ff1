import {
  bytesToVector,
  Mutex,
  type SqlValue,
  type StorageAdapter,
  type ValidRecord,
  type VectorRecord,
  type VectorStore,
  vectorToBytes,
} from '@engram/core'
import { marks } from './conversation-rows.js'
import { TRACES_TABLE, VECTOR_OUTBOX_TABLE } from './memory-schema.js'
import { type TraceRow, toTrace, vectorMetadata } from './trace.js'
import type { VectorWrites } from './vector-writes.js'

/** Outbox rows read and applied per round. */
const PAGE = 256
/** Outbox rows per multi-row INSERT: 100 × 5 = 500 parameters, within every driver's limit. */
const INSERT_ROWS = 100

interface OutboxRow {
  seq: number | bigint
  trace_id: string
  op: 'upsert' | 'delete'
  vector: Uint8Array | null
}

/**
 * Vector writes for a store in another database (Qdrant, Pinecone, another SQL server): each
 * write is recorded in `engram_vector_outbox` in the trace rows' own transaction, then applied
 * to the store and deleted. A crash after the commit leaves the record behind, and the next
 * `drain` (when a memory opens, before each recall, after each write) applies it, so no trace
 * is ever left without its vector, nor a vector without its trace.
 *
 * Replaying is idempotent: an upsert is applied only to traces that still exist, and traces
 * that vanish while their vectors are written are removed again, so concurrent drains (in this
 * process or another) converge on "a vector exactly for every trace".
 */
export class VectorOutbox implements VectorWrites {
  readonly #storage: StorageAdapter
  readonly #vectors: VectorStore
  readonly #collection: string
  // One drain at a time in this process; another process's drains are made safe by the replay rules.
  readonly #draining = new Mutex()

  /** Records writes for `collection` of `vectors` in `storage`'s outbox table. */
  constructor(storage: StorageAdapter, vectors: VectorStore, collection: string) {
    this.#storage = storage
    this.#vectors = vectors
    this.#collection = collection
  }

  async upsert(tx: StorageAdapter, records: readonly ValidRecord[]): Promise<void> {
    await this.#record(
      tx,
      records.map((record) => ({ id: record.id, op: 'upsert', vector: vectorToBytes(record.vector) })),
    )
  }

  async delete(tx: StorageAdapter, ids: readonly string[]): Promise<void> {
    await this.#record(
      tx,
      ids.map((id) => ({ id, op: 'delete', vector: null })),
    )
  }

  settle(): Promise<void> {
    return this.drain()
  }

  async close(): Promise<void> {}

  /** Applies every recorded write of this collection to the vector store, oldest first, and deletes the records. */
  async drain(): Promise<void> {
    await this.#draining.acquire()
    try {
      while (true) {
        const rows = await this.#storage.all<OutboxRow>(
          `SELECT seq, trace_id, op, vector FROM ${VECTOR_OUTBOX_TABLE}
           WHERE collection = ? ORDER BY seq LIMIT ${PAGE}`,
          [this.#collection],
        )
        if (rows.length === 0) return
        // Consecutive writes of the same kind go to the store as one batch; order across kinds is kept.
        for (const run of runsOf(rows)) {
          if (run[0]?.op === 'delete') await this.#applyDeletes(run)
          else await this.#applyUpserts(run)
        }
        const seqs = rows.map((row) => row.seq)
        await this.#storage.run(
          `DELETE FROM ${VECTOR_OUTBOX_TABLE} WHERE seq IN (${marks(seqs.length)})`,
          seqs,
        )
        if (rows.length < PAGE) return
      }
    } finally {
      this.#draining.release()
    }
  }

  async #record(
    tx: StorageAdapter,
    entries: ReadonlyArray<{ id: string; op: OutboxRow['op']; vector: Uint8Array | null }>,
  ): Promise<void> {
    const now = Date.now()
    for (let start = 0; start < entries.length; start += INSERT_ROWS) {
      const chunk = entries.slice(start, start + INSERT_ROWS)
      await tx.run(
        `INSERT INTO ${VECTOR_OUTBOX_TABLE} (collection, trace_id, op, vector, created_at)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((entry): SqlValue[] => [this.#collection, entry.id, entry.op, entry.vector, now]),
      )
    }
  }

  async #applyUpserts(run: readonly OutboxRow[]): Promise<void> {
    const traces = await this.#traces(run.map((row) => row.trace_id))
    const records: VectorRecord[] = []
    for (const row of run) {
      const stored = traces.get(row.trace_id)
      // A trace forgotten since its write was recorded needs no vector; its delete follows in the outbox.
      if (stored === undefined || row.vector === null) continue
      const trace = toTrace(stored)
      records.push({
        id: trace.id,
        vector: bytesToVector(row.vector),
        text: trace.text,
        metadata: vectorMetadata(trace),
      })
    }
    if (records.length === 0) return
    await this.#vectors.upsert(this.#collection, records)
    // A trace deleted while its vector was on the way (by another process's forget, whose own
    // vector delete may have run first) loses the vector again here.
    const still = await this.#traces(records.map((record) => record.id))
    const vanished = records.filter((record) => !still.has(record.id)).map((record) => record.id)
    if (vanished.length > 0) await this.#vectors.delete(this.#collection, { ids: vanished })
  }

  async #applyDeletes(run: readonly OutboxRow[]): Promise<void> {
    const ids = [...new Set(run.map((row) => row.trace_id))]
    await this.#vectors.delete(this.#collection, { ids })
  }

  async #traces(ids: readonly string[]): Promise<Map<string, TraceRow>> {
    const found = new Map<string, TraceRow>()
    if (ids.length === 0) return found
    const rows = await this.#storage.all<TraceRow>(
      `SELECT * FROM ${TRACES_TABLE} WHERE id IN (${marks(ids.length)})`,
      [...ids],
    )
    for (const row of rows) found.set(row.id, row)
    return found
  }
}

function runsOf(rows: readonly OutboxRow[]): OutboxRow[][] {
  const runs: OutboxRow[][] = []
  for (const row of rows) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last[0]?.op === row.op) last.push(row)
    else runs.push([row])
  }
  return runs
}
