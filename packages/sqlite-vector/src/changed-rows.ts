import type { StorageAdapter } from '@engram/core'

/**
 * The rows of a collection's vector table written after sequence `from`, `page` at a time in
 * (seq, label) order, read through the table's `seq` index with keyset pages. Asked for the
 * same rows in label order, SQLite walks the whole table by label to spare itself a sort: after
 * one small write that is a scan of every record (about 80 ms at 100,000 of them) where the index
 * finds the few changed rows in microseconds.
 */
export async function* changedRows<T extends { label: number; seq: number }>(
  db: StorageAdapter,
  table: string,
  columns: string,
  from: number,
  page: number,
): AsyncIterable<T[]> {
  const first = `SELECT ${columns}, seq FROM ${table} WHERE seq > ? ORDER BY seq, label LIMIT ${page}`
  // After (seq, label), without row values, which SQLite before 3.15 (old Android builds) lacks.
  const next = `SELECT ${columns}, seq FROM ${table} WHERE seq >= ? AND (seq > ? OR label > ?) ORDER BY seq, label LIMIT ${page}`
  let rows = await db.all<T>(first, [from])
  while (rows.length > 0) {
    yield rows
    if (rows.length < page) return
    const last = rows[rows.length - 1] as T
    rows = await db.all<T>(next, [last.seq, last.seq, last.label])
  }
}

/** How many rows of the vector table were written after `from`, counted up to `limit` (past it, `limit + 1`). */
export async function countChanged(
  db: StorageAdapter,
  table: string,
  from: number,
  limit: number,
): Promise<number> {
  const row = await db.get<{ n: number }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE seq > ? LIMIT ?)`,
    [from, limit + 1],
  )
  return row?.n ?? 0
}

/** The labels of the records deleted after sequence `from`, from the collection's tombstone table. */
export async function goneSince(db: StorageAdapter, table: string, from: number): Promise<number[]> {
  const rows = await db.all<{ label: number }>(`SELECT label FROM ${table} WHERE seq > ?`, [from])
  return rows.map((row) => row.label)
}
