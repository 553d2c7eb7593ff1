import type { StorageAdapter } from '@engram/core'
import { marks } from './record-rows.js'

/** The scratch FTS5 table, in the connection's temp schema, with the tokenizer every collection's text table uses. */
const PROBE = 'engram_text_probe'

/** Where query words occur in the records changed since a collection state. */
export interface ChangedWords {
  /** Changed records that have text (an FTS row each). */
  records: number
  /** Per word, each changed record holding it: how often, and the record's length in tokens. */
  holders: Map<string, Array<{ frequency: number; length: number }>>
}

/** Per connection: whether its probe table exists, and the queue that gives it to one search at a time. */
const probes = new WeakMap<StorageAdapter, { created: boolean; queue: Promise<unknown> }>()

/**
 * The records of the vector table `vectors` changed since sequence `from`, tokenized by a scratch
 * FTS5 table in the temp schema (so read-only files work), with how often each of `words` occurs
 * in each and each one's length in tokens: what `bm25()` reads for them, without the count of
 * every record holding each word that every `bm25()` statement starts with. Callers check first
 * that few records changed (`countChanged`).
 */
export function changedWords(
  db: StorageAdapter,
  vectors: string,
  from: number,
  words: readonly string[],
): Promise<ChangedWords> {
  let probe = probes.get(db)
  if (probe === undefined) {
    probe = { created: false, queue: Promise.resolve() }
    probes.set(db, probe)
  }
  const own = probe
  const read = own.queue.then(async () => {
    if (!own.created) {
      await db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE} USING fts5(text, tokenize='unicode61');
        CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE}_words USING fts5vocab(temp, ${PROBE}, instance);`)
      own.created = true
    }
    await db.run(`DELETE FROM temp.${PROBE}`)
    const { changes: records } = await db.run(
      `INSERT INTO temp.${PROBE}(rowid, text) SELECT label, text FROM ${vectors} WHERE seq > ? AND text IS NOT NULL`,
      [from],
    )
    const holders = new Map<string, Array<{ frequency: number; length: number }>>()
    if (records === 0 || words.length === 0) return { records, holders }
    // One row per token: a record's count is its length as FTS5 counts it for bm25().
    const lengths = new Map<number, number>()
    for (const row of await db.all<{ doc: number; n: number }>(
      `SELECT doc, count(*) AS n FROM temp.${PROBE}_words GROUP BY doc`,
    )) {
      lengths.set(Number(row.doc), Number(row.n))
    }
    for (const row of await db.all<{ term: string; doc: number; n: number }>(
      `SELECT term, doc, count(*) AS n FROM temp.${PROBE}_words WHERE term IN (${marks(words.length)}) GROUP BY term, doc`,
      words,
    )) {
      const list = holders.get(row.term) ?? []
      list.push({ frequency: Number(row.n), length: lengths.get(Number(row.doc)) ?? 0 })
      holders.set(row.term, list)
    }
    return { records, holders }
  })
  own.queue = read.catch(() => undefined)
  return read
}
