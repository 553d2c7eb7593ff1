import type { SqlParams, StorageAdapter, VectorMatch } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { createSqliteVectorStore } from '../src/index.js'
import { openAdapter, seeded } from './helpers.js'

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
          // A fresh store ranks every match on its first query at a collection state.
          const reference = createSqliteVectorStore({ adapter: openAdapter(), ...settings })
          await reference.createCollection('docs', { dimension: 2 })
          await reference.upsert('docs', records)
          const expected = await reference.query('docs', query)
          await reference.close()
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
})

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
