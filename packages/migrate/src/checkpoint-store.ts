import { isStorageError, type SqlValue, type StorageAdapter, StorageError } from '@engram/core'
import { CHECKPOINT_TABLE } from './read-schema.js'
import { decodeKey, encodeKey } from './value-codec.js'

/** How far one table or collection of one migration got. */
export interface Checkpoint {
  /** `'table:<name>'` or `'collection:<name>'`. */
  readonly item: string
  /** The paging key of the last row copied, or `null` before the first batch. */
  readonly lastKey: SqlValue[] | null
  /** Source rows (or records) copied so far. */
  readonly copied: number
  /** Whether the item is finished. */
  readonly done: boolean
}

const CREATE = `CREATE TABLE IF NOT EXISTS ${CHECKPOINT_TABLE} (
  job TEXT NOT NULL,
  item TEXT NOT NULL,
  last_key TEXT,
  copied BIGINT NOT NULL,
  done INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (job, item)
)`

const SAVE = `INSERT INTO ${CHECKPOINT_TABLE} (job, item, last_key, copied, done, updated_at) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (job, item) DO UPDATE SET last_key = excluded.last_key, copied = excluded.copied,
    done = excluded.done, updated_at = excluded.updated_at`

// The row is matched by its key alone, so a second batch's statement waits for the first's lock
// and then sees its committed version (Postgres re-reads a locked row only when the WHERE matched
// it before); the CASEs move it only from where this batch expects it.
const ADVANCE = `UPDATE ${CHECKPOINT_TABLE} SET
    last_key = CASE WHEN copied = ? THEN ? ELSE last_key END,
    updated_at = CASE WHEN copied = ? THEN ? ELSE updated_at END,
    copied = CASE WHEN copied = ? THEN ? ELSE copied END
  WHERE job = ? AND item = ? AND done = 0
  RETURNING copied`

/**
 * The checkpoint table in a migration's target: one row per (migration, table or collection)
 * with the last key copied. A table's row is written in the same transaction as each batch, so
 * after a crash it names exactly the rows the target holds.
 */
export class CheckpointStore {
  readonly #db: StorageAdapter
  readonly #job: string

  /** A store for the migration named `job` in `db`. */
  constructor(db: StorageAdapter, job: string) {
    this.#db = db
    this.#job = job
  }

  /** Creates the table if it is missing. */
  async ensure(): Promise<void> {
    await this.#db.exec(CREATE)
  }

  /** Every checkpoint of this migration; none when the table does not exist (it is never created here). */
  async load(): Promise<Map<string, Checkpoint>> {
    let rows: Array<{
      item: string
      last_key: string | null
      copied: number | bigint
      done: number | boolean
    }>
    try {
      rows = await this.#db.all(
        `SELECT item, last_key, copied, done FROM ${CHECKPOINT_TABLE} WHERE job = ?`,
        [this.#job],
      )
    } catch (error) {
      if (isStorageError(error, 'NOT_FOUND')) return new Map()
      throw error
    }
    return new Map(
      rows.map((row) => [
        row.item,
        {
          item: row.item,
          lastKey: row.last_key === null ? null : decodeKey(row.last_key),
          copied: Number(row.copied),
          done: Number(row.done) === 1,
        },
      ]),
    )
  }

  /**
   * Moves a table's checkpoint from `from` rows to `to` with `tx`, the transaction that wrote
   * the batch. Batches of one table may be written by several transactions at once; this
   * statement, waiting on the checkpoint row's lock, commits them strictly in order, and a
   * batch whose predecessor failed (so the checkpoint never reached `from`) fails too, so the
   * rows up to the checkpoint are always exactly the rows in the target.
   */
  async advance(
    tx: StorageAdapter,
    item: string,
    from: number,
    to: { lastKey: SqlValue[] | null; copied: number },
  ): Promise<void> {
    const row = await tx.get<{ copied: number | bigint }>(ADVANCE, [
      from,
      to.lastKey === null ? null : encodeKey(to.lastKey),
      from,
      Date.now(),
      from,
      to.copied,
      this.#job,
      item,
    ])
    if (row === undefined || Number(row.copied) !== to.copied) {
      throw new StorageError(
        'SERIALIZATION_FAILURE',
        `The checkpoint of ${item} is not where this batch expected (${from} rows): an earlier batch failed, or another run of the same migration is copying it. Stop the other run, then rerun with resume`,
      )
    }
  }

  /** Records progress with `tx`, the transaction that wrote the batch. */
  async save(tx: StorageAdapter, checkpoint: Checkpoint): Promise<void> {
    await tx.run(SAVE, [
      this.#job,
      checkpoint.item,
      checkpoint.lastKey === null ? null : encodeKey(checkpoint.lastKey),
      checkpoint.copied,
      checkpoint.done ? 1 : 0,
      Date.now(),
    ])
  }
}
