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

/** One changed record as the probe tokenized it: its sequence then, its length, and how often each word occurs. */
interface Tokenized {
  seq: number
  length: number
  counts: Map<string, number>
}

/** Tokenized records kept per vector table; past this many the store starts over (they are read again as needed). */
const MOST_TOKENIZED = 4000
/** Labels per `IN (…)` list when the probe reads records by label. */
const LABELS_PER_READ = 500

/**
 * Per connection: whether its probe table exists, the queue that gives it to one search at a
 * time, and the records it has tokenized, by vector table and label.
 */
const probes = new WeakMap<
  StorageAdapter,
  { created: boolean; queue: Promise<unknown>; tokenized: Map<string, Map<number, Tokenized>> }
>()

/**
 * The records of the vector table `vectors` changed since sequence `from`, tokenized by a scratch
 * FTS5 table in the temp schema (so read-only files work), with how often each of `words` occurs
 * in each and each one's length in tokens: what `bm25()` reads for them, without the count of
 * every record holding each word that every `bm25()` statement starts with. Callers check first
 * that few records changed (`countChanged`).
 *
 * A record is tokenized once per version: its words are kept under its label and sequence, and a
 * later call reads only the records written since (a search after each write, as an agent makes
 * them, would otherwise tokenize every record changed since its words' statistics were read). A
 * record's sequence changes with every write to it, and a committed label and sequence are never
 * given to another text, so a kept entry is never stale; one read while a write committed in
 * between is kept under the older sequence, which no later call asks for.
 */
export function changedWords(
  db: StorageAdapter,
  vectors: string,
  from: number,
  words: readonly string[],
): Promise<ChangedWords> {
  let probe = probes.get(db)
  if (probe === undefined) {
    probe = { created: false, queue: Promise.resolve(), tokenized: new Map() }
    probes.set(db, probe)
  }
  const own = probe
  const read = own.queue.then(async (): Promise<ChangedWords> => {
    // Through the `seq` index; asked for label order, SQLite would walk the whole table instead.
    const rows = await db.all<{ label: number; seq: number }>(
      `SELECT label, seq FROM ${vectors} WHERE seq > ? AND text IS NOT NULL ORDER BY seq, label`,
      [from],
    )
    rows.sort((a, b) => a.label - b.label)
    const records = new Map(rows.map((row) => [Number(row.label), Number(row.seq)]))
    let kept = own.tokenized.get(vectors)
    if (kept === undefined || kept.size > MOST_TOKENIZED) {
      kept = new Map()
      own.tokenized.set(vectors, kept)
    }
    const missing = [...records]
      .filter(([label, seq]) => kept.get(label)?.seq !== seq)
      .map(([label]) => label)
    if (missing.length > 0) await tokenize(db, own, vectors, missing, kept)
    const holders = new Map<string, WordHolder[]>()
    for (const word of words) {
      const list: WordHolder[] = []
      for (const [label, seq] of records) {
        // A record rewritten while it was being read is kept under its older sequence: left out, as a race is.
        const record = kept.get(label)
        const frequency = record?.seq === seq ? record.counts.get(word) : undefined
        if (frequency !== undefined) list.push({ label, seq, frequency, length: record?.length ?? 0 })
      }
      if (list.length > 0) holders.set(word, list)
    }
    return { from, records, holders }
  })
  own.queue = read.catch(() => undefined)
  return read
}

/** Tokenizes the records with these labels in the probe table and keeps their words in `kept`. */
async function tokenize(
  db: StorageAdapter,
  probe: { created: boolean },
  vectors: string,
  labels: readonly number[],
  kept: Map<number, Tokenized>,
): Promise<void> {
  if (!probe.created) {
    await db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE} USING fts5(text, seq UNINDEXED, ${FTS5_TOKENIZE});
      CREATE VIRTUAL TABLE IF NOT EXISTS temp.${PROBE}_words USING fts5vocab(temp, ${PROBE}, instance);`)
    probe.created = true
  }
  await db.run(`DELETE FROM temp.${PROBE}`)
  for (let i = 0; i < labels.length; i += LABELS_PER_READ) {
    const chunk = labels.slice(i, i + LABELS_PER_READ)
    await db.run(
      `INSERT INTO temp.${PROBE}(rowid, text, seq) SELECT label, text, seq FROM ${vectors}
        WHERE label IN (${marks(chunk.length)}) AND text IS NOT NULL`,
      chunk,
    )
  }
  // The sequence each record had when it was read: its words are kept under that version.
  const read = new Map<number, Tokenized>()
  for (const row of await db.all<{ label: number; seq: number }>(
    `SELECT rowid AS label, seq FROM temp.${PROBE}`,
  )) {
    read.set(Number(row.label), { seq: Number(row.seq), length: 0, counts: new Map() })
  }
  // One row per token: a record's length is its count of tokens, as FTS5 counts it for bm25().
  for (const row of await db.all<{ term: string; doc: number; n: number }>(
    `SELECT term, doc, count(*) AS n FROM temp.${PROBE}_words GROUP BY term, doc`,
  )) {
    const record = read.get(Number(row.doc))
    if (record === undefined) continue
    record.counts.set(row.term, Number(row.n))
    record.length += Number(row.n)
  }
  for (const [label, record] of read) kept.set(label, record)
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
