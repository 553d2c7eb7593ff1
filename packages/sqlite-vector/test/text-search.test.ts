import type { SqlParams, StorageAdapter, VectorMatch } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { createSqliteVectorStore } from '../src/index.js'
import { countingStatements, openAdapter, seeded } from './helpers.js'

/** Words from common to rare, so some queries mix words held by most records with words held by a few. */
const WORDS = Array.from({ length: 60 }, (_, i) => `w${i}`)

function corpus(
  size: number,
): Array<{ id: string; vector: number[]; text: string; metadata: { even: boolean } }> {
  const random = seeded(41)
  return Array.from({ length: size }, (_, i) => {
    const length = 3 + Math.floor(random() * 12)
    // Skewed: low-numbered words are far more common, and some records repeat a word.
    const words = Array.from({ length }, () => WORDS[Math.floor(random() ** 3 * WORDS.length)] as string)
    return {
      id: `r${i}`,
      vector: [random(), random()],
      text: words.join(' '),
      metadata: { even: i % 2 === 0 },
    }
  })
}

const QUERIES = ['w0 w1', 'w0 w30 w55', 'w2 w3 w4 w5', 'w0 w1 w2 w3 w4 w59', 'w10 w58', 'w59 w57 w0']

const ids = (matches: VectorMatch[]) => matches.map((match) => match.id)

describe('text search on a large FTS5 collection', () => {
  it('returns exactly what ranking every match returns, once it skips classes of records (k 1 to 300, with and without a filter)', async () => {
    const records = corpus(3_000)
    // The store under test answers each query three times, so its later answers take the shortcut.
    // Term statistics are read from the first record on (commonTermFraction 1 prunes no word), which the shortcut needs.
    const settings = { termPruningThreshold: 1, commonTermFraction: 1 }
    const classQueries: string[] = []
    const adapter = watch(openAdapter(), (params) => {
      const match = params[0]
      if (typeof match === 'string' && match.includes(' AND ')) classQueries.push(match)
    })
    const store = createSqliteVectorStore({ adapter, ...settings })
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', records)
    for (const text of QUERIES) {
      for (const topK of [1, 10, 50, 300]) {
        for (const filter of [undefined, { even: true }]) {
          const query = { text, mode: 'text' as const, topK, ...(filter ? { filter } : {}) }
          const expected = await rankEveryMatch(adapter, text, topK, filter !== undefined)
          for (let round = 0; round < 3; round++) {
            const got = await store.query('docs', query)
            expect(ids(got), `${text} topK ${topK} round ${round}`).toEqual(ids(expected))
            got.forEach((match, i) => {
              expect(match.score).toBeCloseTo(expected[i]?.score as number, 9)
            })
          }
        }
      }
    }
    // The shortcut ran: records were searched class by class (`a AND b NOT (c)`), not all at once.
    expect(classQueries.length).toBeGreaterThan(0)
    await store.close()
  })

  it('stays exact when each query follows a small write, carrying word bounds instead of ranking each word again', async () => {
    const records = corpus(3_000)
    const settings = { termPruningThreshold: 1, commonTermFraction: 1 }
    const singleWordRankings: string[] = []
    const adapter = watch(openAdapter(), (params) => {
      const match = params[0]
      if (typeof match === 'string' && /^"w\d+"$/.test(match) && params[params.length - 1] === 1) {
        singleWordRankings.push(match)
      }
    })
    const store = createSqliteVectorStore({ adapter, ...settings })
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', records)
    const check = async (label: string) => {
      for (const text of QUERIES) {
        for (const filter of [undefined, { even: true }]) {
          const expected = await rankEveryMatch(adapter, text, 20, filter !== undefined)
          const got = await store.query('docs', {
            text,
            mode: 'text',
            topK: 20,
            ...(filter ? { filter } : {}),
          })
          expect(ids(got), `${text} ${label}`).toEqual(ids(expected))
          got.forEach((match, i) => {
            expect(match.score).toBeCloseTo(expected[i]?.score as number, 9)
          })
        }
      }
    }
    await check('before any write')
    const rankedBefore = singleWordRankings.length
    expect(rankedBefore).toBeGreaterThan(0)
    // Writes that move every bound: short records repeating a rare word (a higher best than any
    // before), a very long one (the average length grows), a rewritten text, and a delete.
    const writes: Array<() => Promise<unknown>> = [
      () =>
        store.upsert('docs', [
          { id: 'short', vector: [1, 0], text: 'w59 w59 w59', metadata: { even: true } },
        ]),
      () => store.upsert('docs', [{ id: 'long', vector: [0, 1], text: Array(400).fill('w1 w57').join(' ') }]),
      () =>
        store.upsert('docs', [{ id: 'r7', vector: [1, 1], text: 'w30 w55 w55', metadata: { even: true } }]),
      () => store.delete('docs', { ids: ['short'] }),
      () => store.upsert('docs', [{ id: 'tiny', vector: [1, 0], text: 'w58', metadata: { even: false } }]),
    ]
    for (const [i, write] of writes.entries()) {
      await write()
      await check(`after write ${i}`)
    }
    // Words already ranked once were carried through every write, not ranked again.
    expect(singleWordRankings.slice(rankedBefore)).toEqual([])
    await store.close()
  })
})

describe('carried word bounds', () => {
  it('grow with the average length, so a short record is not skipped after long ones arrive', async () => {
    const db = openAdapter()
    const store = createSqliteVectorStore({ adapter: db, termPruningThreshold: 1, commonTermFraction: 1 })
    await store.createCollection('docs', { dimension: 2 })
    await store.upsert('docs', [
      { id: 'D', vector: [1, 0], text: 't' },
      { id: 'E', vector: [1, 0], text: 't u' },
      ...Array.from({ length: 30 }, (_, i) => ({ id: `f${i}`, vector: [0, 1], text: `f${i} g${i}` })),
    ])
    const query = { text: 't u', mode: 'text' as const, topK: 1 }
    // The first query finds the bounds of t and u.
    expect(ids(await store.query('docs', query))).toEqual(ids(await rankEveryMatch(db, 't u', 1, false)))
    // Fifty long records holding u: the average length grows about 60-fold, u becomes too common to
    // weigh anything, and the one-word record D now outscores E, whose u counts for nothing. D's score
    // grew with the average length beyond its old bound times the IDF ratio alone.
    await store.upsert(
      'docs',
      Array.from({ length: 50 }, (_, i) => ({
        id: `z${i}`,
        vector: [0, 1],
        text: `u ${Array(200).fill(`z${i}`).join(' ')}`,
      })),
    )
    expect(ids(await rankEveryMatch(db, 't u', 1, false))).toEqual(['D'])
    expect(ids(await store.query('docs', query))).toEqual(['D'])
    await store.close()
  })
})

/**
 * A store on a counting adapter that leaves out words held by more than half of the records,
 * with a collection of 100 records whose texts `text` gives.
 */
async function halfPruning(text: (i: number) => string) {
  const { adapter, sql } = countingStatements(openAdapter())
  const store = createSqliteVectorStore({ adapter, termPruningThreshold: 1, commonTermFraction: 0.5 })
  await store.createCollection('docs', { dimension: 2 })
  await store.upsert(
    'docs',
    Array.from({ length: 100 }, (_, i) => ({ id: `r${i}`, vector: [1, 0], text: text(i) })),
  )
  return { store, sql }
}

describe('carried word counts', () => {
  it('count each new record, so a word is left out once it turns common, and are read again after an update or a delete', async () => {
    // x in 48 of the records, y in 10 others.
    const { store, sql } = await halfPruning((i) =>
      i < 48 ? `x filler${i}` : i < 58 ? `y filler${i}` : `filler${i}`,
    )
    const query = { text: 'x y', mode: 'text' as const, topK: 200 }
    const countReads = () => sql.filter((s) => s.includes('_terms WHERE')).length
    expect(await store.query('docs', query)).toHaveLength(58)
    const readsBefore = countReads()
    expect(readsBefore).toBeGreaterThan(0)
    // x is in 48 + n of 100 + n records: kept up to n = 4, left out from n = 5 (53 > 52.5).
    for (let n = 1; n <= 6; n++) {
      await store.upsert('docs', [{ id: `new${n}`, vector: [0, 1], text: `x fresh${n}` }])
      const got = await store.query('docs', query)
      expect(got.length, `after ${n} new records`).toBe(n <= 4 ? 58 + n : 10)
    }
    // Every count came from the records that changed, not from the index's statistics.
    expect(countReads()).toBe(readsBefore)

    // A rewritten record may have held the word before: counted afresh, and x (55 of 106) stays out.
    await store.upsert('docs', [{ id: 'r50', vector: [1, 0], text: 'x rewritten' }])
    expect(await store.query('docs', query)).toHaveLength(9)
    expect(countReads()).toBe(readsBefore + 1)
    // Deleting six x records brings x back (49 of 100).
    await store.delete('docs', { ids: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'] })
    expect(await store.query('docs', query)).toHaveLength(49 + 9)
    expect(countReads()).toBe(readsBefore + 2)
    await store.close()
  })
})

describe('carried word counts from several states', () => {
  it('count for each word only the records changed since the state its count holds at', async () => {
    // x in 40 of the records, y in 49, w in 5, apart.
    const { store, sql } = await halfPruning((i) =>
      i < 40 ? `x a${i}` : i < 89 ? `y a${i}` : i < 94 ? `w a${i}` : `a${i}`,
    )
    const query = (text: string) => store.query('docs', { text, mode: 'text', topK: 200 })
    expect(await query('x y')).toHaveLength(89)
    await store.upsert('docs', [{ id: 'new1', vector: [0, 1], text: 'x y new1' }])
    // y: 50 of 101, kept; its count now holds at this state, x's still at the first.
    expect(await query('y w')).toHaveLength(55)
    await store.upsert('docs', [{ id: 'new2', vector: [0, 1], text: 'x y new2' }])
    // y: 51 of 102, still kept (counting new1 twice would make it 52 and leave it out). Both counts
    // come from one read of the records changed since the older state, not from the index.
    const before = sql.length
    expect(await query('x y')).toHaveLength(91)
    const ran = sql.slice(before)
    expect(ran.filter((s) => s.includes('_terms WHERE'))).toEqual([])
    expect(ran.filter((s) => s.includes('INSERT INTO temp.engram_text_probe'))).toHaveLength(1)
    await store.close()
  })
})

/**
 * The reference: the best `k` of the OR of the query's words by `bm25()`, every match ranked in
 * one statement, ties by label, as text search promises (no word is pruned in these tests).
 */
async function rankEveryMatch(
  db: StorageAdapter,
  text: string,
  k: number,
  evenOnly: boolean,
): Promise<VectorMatch[]> {
  const row = await db.get<{ cid: number }>("SELECT cid FROM engram_collections WHERE name = 'docs'")
  const f = `engram_fts_${row?.cid}`
  const v = `engram_vec_${row?.cid}`
  const match = text
    .split(' ')
    .map((word) => `"${word}"`)
    .join(' OR ')
  const rows = await db.all<{ id: string; rank: number }>(
    `SELECT v.id AS id, bm25(${f}) AS rank FROM ${f} JOIN ${v} AS v ON v.label = ${f}.rowid
      WHERE ${f} MATCH ? ${evenOnly ? "AND json_extract(v.metadata, '$.even') = 1" : ''}
      ORDER BY round(rank / 1e-9), ${f}.rowid LIMIT ?`,
    [match, k],
  )
  return rows.map((r) => ({ id: r.id, score: -r.rank }))
}

/** The same adapter, telling `see` the parameters of every `all()` call. */
function watch(adapter: StorageAdapter, see: (params: readonly unknown[]) => void): StorageAdapter {
  return new Proxy(adapter, {
    get(target, key, receiver) {
      if (key === 'all') {
        return (sql: string, params?: SqlParams) => {
          if (Array.isArray(params)) see(params)
          return target.all(sql, params)
        }
      }
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
