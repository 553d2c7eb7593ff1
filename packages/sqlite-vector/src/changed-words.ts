import type { StorageAdapter } from '@engram/core'
import { FTS5_TOKENIZE } from './collection-tables.js'
import { marks } from './record-rows.js'

/** The scratch FTS5 table, in the connection's temp schema, with the tokenizer every collection's text table uses. */
const PROBE = 'engram_text_probe'

/** One changed record holding a word: how often, and the record's length in tokens. */
export interface WordHolder {
  label: number
  /** The record's sequence: the write batch that last changed it. */
  seq: number
  frequency: number
  length: number
}

/** Where query words occur in the records changed since a collection state. */
export interface ChangedWords {
  /** The state (`seq`) the records changed since. */
  from: number
  /** The sequence of each changed record that has text (an FTS row each), by label. */
  records: Map<number, number>
  /** Per word, each changed record holding it. */
  holders: Map<string, WordHolder[]>
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
  const read = own.queue.then(async (): Promise<ChangedWords> => {
    if (!own.created) {
      await db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE} USING fts5(text, seq UNINDEXED, ${FTS5_TOKENIZE});
        CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE}_words USING fts5vocab(temp, ${PROBE}, instance);`)
      own.created = true
    }
    await db.run(`DELETE FROM temp.${PROBE}`)
    const { changes } = await db.run(
      `INSERT INTO temp.${PROBE}(rowid, text, seq) SELECT label, text, seq FROM ${vectors} WHERE seq > ? AND text IS NOT NULL`,
      [from],
    )
    const records = new Map<number, number>()
    const holders = new Map<string, WordHolder[]>()
    if (changes === 0) return { from, records, holders }
    for (const row of await db.all<{ label: number; seq: number }>(
      `SELECT rowid AS label, seq FROM temp.${PROBE}`,
    )) {
      records.set(Number(row.label), Number(row.seq))
    }
    if (words.length === 0) return { from, records, holders }
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
      const label = Number(row.doc)
      const list = holders.get(row.term) ?? []
      list.push({
        label,
        seq: records.get(label) ?? 0,
        frequency: Number(row.n),
        length: lengths.get(label) ?? 0,
      })
      holders.set(row.term, list)
    }
    return { from, records, holders }
  })
  own.queue = read.catch(() => undefined)
  return read
}

/** The part of `changed` that changed since the later state `from`. */
export function changedAfter(changed: ChangedWords, from: number): ChangedWords {
  if (from === changed.from) return changed
  const records = new Map([...changed.records].filter(([, seq]) => seq > from))
  const holders = new Map<string, WordHolder[]>()
  for (const [word, list] of changed.holders) {
    const later = list.filter((holder) => holder.seq > from)
    if (later.length > 0) holders.set(word, later)
  }
  return { from, records, holders }
}
