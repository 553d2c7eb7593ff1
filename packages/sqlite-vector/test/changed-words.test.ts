import type { StorageAdapter } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { changedAfter, changedWords } from '../src/changed-words.js'
import { bm25Contribution, bm25Idf, fts5Totals } from '../src/fts5-totals.js'
import { openAdapter } from './helpers.js'

/** A vector table and its FTS5 table as a collection has them, the trigger included. */
async function collection(db: StorageAdapter, texts: Array<string | null>): Promise<void> {
  await db.exec(`CREATE TABLE v (label INTEGER PRIMARY KEY, text TEXT, seq INTEGER NOT NULL);
    CREATE INDEX v_seq ON v(seq);
    CREATE VIRTUAL TABLE f USING fts5(text, tokenize='unicode61');
    CREATE TRIGGER v_ai AFTER INSERT ON v WHEN new.text IS NOT NULL BEGIN
      INSERT INTO f(rowid, text) VALUES (new.label, new.text);
    END;`)
  for (const [i, text] of texts.entries()) {
    await db.run('INSERT INTO v (label, text, seq) VALUES (?, ?, ?)', [i + 1, text, i < 3 ? 1 : 2])
  }
}

describe('changedWords', () => {
  it("counts each word in the records changed since a sequence as FTS5's tokenizer does, with their lengths", async () => {
    const db = openAdapter()
    await collection(db, [
      'alpha beta',
      'beta',
      'gamma',
      'Café CAFE café, beta',
      null,
      'alpha alpha delta',
      '',
    ])
    const changed = await changedWords(db, 'v', 1, ['cafe', 'café', 'alpha', 'beta', 'zeta'])
    // Records 4 to 7 changed (at sequence 2); record 5 has no text, so no FTS row.
    expect(changed.records).toEqual(
      new Map([
        [4, 2],
        [6, 2],
        [7, 2],
      ]),
    )
    expect(Object.fromEntries(changed.holders)).toEqual({
      // unicode61 folds case and drops diacritics: three tokens of one word in a record of four.
      cafe: [{ label: 4, seq: 2, frequency: 3, length: 4 }],
      alpha: [{ label: 6, seq: 2, frequency: 2, length: 3 }],
      beta: [{ label: 4, seq: 2, frequency: 1, length: 4 }],
    })
    // The probe holds only the latest call's records.
    const none = await changedWords(db, 'v', 2, ['alpha'])
    expect(none).toEqual({ from: 2, records: new Map(), holders: new Map() })
  })

  it('gives each of two searches on one connection its own records, however their calls interleave', async () => {
    const db = openAdapter()
    await collection(db, ['a', 'b', 'c', 'a a', 'b b', 'a b'])
    const [early, late] = await Promise.all([
      changedWords(db, 'v', 0, ['a']),
      changedWords(db, 'v', 1, ['a']),
    ])
    expect(early.records.size).toBe(6)
    expect(early.holders.get('a')).toHaveLength(3)
    expect(late.records.size).toBe(3)
    expect(late.holders.get('a')).toHaveLength(2)
  })

  it('gives a later state its part of the records read since an earlier one', async () => {
    const db = openAdapter()
    await collection(db, ['a', 'a b', 'b', 'a', 'b', 'a a'])
    await db.run('UPDATE v SET seq = 3 WHERE label IN (5, 6)')
    const since1 = await changedWords(db, 'v', 1, ['a', 'b'])
    expect([...since1.records.keys()]).toEqual([4, 5, 6])
    const since2 = changedAfter(since1, 2)
    expect(since2.records).toEqual(
      new Map([
        [5, 3],
        [6, 3],
      ]),
    )
    expect(Object.fromEntries(since2.holders)).toEqual({
      a: [{ label: 6, seq: 3, frequency: 2, length: 2 }],
      b: [{ label: 5, seq: 3, frequency: 1, length: 1 }],
    })
    expect(changedAfter(since1, 3)).toEqual({ from: 3, records: new Map(), holders: new Map() })
  })
})

describe('changedWords across calls', () => {
  it('tokenizes each version of a record once: a later call reads only the records written since', async () => {
    const db = openAdapter()
    await collection(db, ['a', 'a b', 'b', 'a a', 'b', 'a b c'])
    const tokenized: number[] = []
    const run = db.run.bind(db)
    db.run = async (sql, params) => {
      const result = await run(sql, params)
      if (sql.includes('INSERT INTO temp.')) tokenized.push(result.changes)
      return result
    }
    const first = await changedWords(db, 'v', 0, ['a', 'b'])
    expect(first.holders.get('a')?.map((h) => [h.label, h.frequency, h.length])).toEqual([
      [1, 1, 1],
      [2, 1, 2],
      [4, 2, 2],
      [6, 1, 3],
    ])
    expect(tokenized).toEqual([6])
    // One new record and one rewritten one (a write gives it a new sequence): only those two are read.
    await db.run('INSERT INTO v (label, text, seq) VALUES (7, ?, 3)', ['b b a'])
    await db.run('UPDATE v SET text = ?, seq = 3 WHERE label = 4', ['c'])
    tokenized.length = 0
    const second = await changedWords(db, 'v', 0, ['a', 'b', 'c'])
    expect(tokenized).toEqual([2])
    expect(
      Object.fromEntries(
        [...second.holders].map(([w, list]) => [w, list.map((h) => [h.label, h.seq, h.frequency, h.length])]),
      ),
    ).toEqual({
      a: [
        [1, 1, 1, 1],
        [2, 1, 1, 2],
        [6, 2, 1, 3],
        [7, 3, 1, 3],
      ],
      b: [
        [2, 1, 1, 2],
        [3, 1, 1, 1],
        [5, 2, 1, 1],
        [6, 2, 1, 3],
        [7, 3, 2, 3],
      ],
      c: [
        [4, 3, 1, 1],
        [6, 2, 1, 3],
      ],
    })
    // Nothing new: nothing is tokenized, and the answer is the same.
    tokenized.length = 0
    expect(await changedWords(db, 'v', 0, ['a', 'b', 'c'])).toEqual(second)
    expect(tokenized).toEqual([])
  })
})

describe('bm25Contribution', () => {
  it("equals bm25()'s score of a one-word query for every record holding the word", async () => {
    const db = openAdapter()
    // w in 12 of 61 records, up to four times, in records of 1 to 12 tokens.
    const texts = Array.from(
      { length: 60 },
      (_, i) =>
        [...Array(i % 5 === 0 ? 1 + ((i / 5) % 4) : 0).fill('w'), ...Array(i % 9).fill(`pad${i % 7}`)].join(
          ' ',
        ) || 'pad',
    )
    await collection(db, [...texts, 'other words only'])
    const totals = await fts5Totals(db, 'f')
    expect(totals).toBeDefined()
    const { rows, tokens } = totals as { rows: number; tokens: number }
    const holders = await changedWords(db, 'v', 0, ['w'])
    const lengths = new Map((holders.holders.get('w') ?? []).map((h, i) => [i, h]))
    const ranked = await db.all<{ label: number; rank: number }>(
      `SELECT rowid AS label, bm25(f) AS rank FROM f WHERE f MATCH '"w"' ORDER BY rowid`,
    )
    expect(ranked).toHaveLength(12)
    const idf = bm25Idf(rows, 12)
    expect(idf).toBeGreaterThan(1)
    for (const [i, row] of ranked.entries()) {
      const { frequency, length } = lengths.get(i) as { frequency: number; length: number }
      expect(frequency).toBe(1 + (i % 4))
      expect(row.label).toBe(5 * i + 1)
      expect(bm25Contribution(idf, frequency, length, tokens / rows)).toBeCloseTo(-row.rank, 12)
    }
  })
})
