import {
  FILTER_OPERATORS,
  type Filter,
  type Metadata,
  matchesFilter,
  StorageError,
  validateFilter,
} from '@engram/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { printFigures, runSeed, scaled } from '../src/figures.js'
import { filters, metadata } from '../src/filter-arbitraries.js'
import { requirePostgres } from '../src/pg-env.js'
import { openStoreTargets, type StoreTargets } from '../src/store-targets.js'

// Differential fuzzing: random records and random filter trees on every vector store, each
// store's answer (count, filtered query, filtered scan, delete by filter) against core's
// reference evaluator matchesFilter. fast-check shrinks any difference to a minimal case.
const FILE = 'differential-filters'
const RUNS = scaled(80)
const seed = runSeed()
let stores: StoreTargets

beforeAll(async () => {
  await requirePostgres()
  stores = await openStoreTargets()
  printFigures(FILE, 'stores', {
    ran: stores.targets.map((t) => t.name).join(', '),
    skipped: stores.skipped.map((s) => `${s.name} (${s.reason})`).join('; ') || 'none',
  })
}, 120_000)

afterAll(() => stores?.close(), 120_000)

/** A vector per record that is never zero, so every metric can score it. */
function vectorOf(i: number): number[] {
  return [1 + (i % 7), 1 + (i % 3), 2 + (i % 5), 1]
}

describe(`every store selects exactly what matchesFilter accepts (${RUNS} runs each, seed ${seed})`, () => {
  it('runs on every store that is available here', () => {
    expect(stores.targets.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'reference',
        'sqlite-vector on sqlite-native',
        'sqlite-vector on sqljs',
        'pgvector',
      ]),
    )
  })

  for (const name of [
    'reference',
    'sqlite-vector on sqlite-native',
    'sqlite-vector on sqljs',
    'pgvector',
    'pgvector (tenant-scoped)',
    'qdrant (test server)',
    'pinecone (test server)',
    'supabase (PostgREST test server)',
  ]) {
    it(`${name}: count, query, scan and delete by random filters over random records`, async (context) => {
      const target = stores.targets.find((t) => t.name === name)
      if (!target) {
        const reason = stores.skipped.find((s) => s.name === name)?.reason ?? 'not opened'
        context.skip(`${name} is not available: ${reason}`)
        return
      }
      const { store } = target
      const ability = {
        operators: store.capabilities.operators.filter((op) =>
          (FILTER_OPERATORS as readonly string[]).includes(op),
        ),
        stringRanges: store.capabilities.stringRanges !== false,
      }
      let run = 0
      let compared = 0
      let split = 0
      await fc.assert(
        fc.asyncProperty(
          fc.array(metadata, { minLength: 5, maxLength: 40 }),
          fc.array(filters(ability), { minLength: 3, maxLength: 8 }),
          async (records: (Metadata | undefined)[], trees: Filter[]) => {
            const collection = `fz${run++}`
            await store.createCollection(collection, { dimension: 4 })
            try {
              await store.upsert(
                collection,
                records.map((m, i) => ({
                  id: `r${i}`,
                  vector: vectorOf(i),
                  ...(m === undefined ? {} : { metadata: m }),
                })),
              )
              for (const filter of trees) {
                const node = validateFilter(filter)
                const expected = records.flatMap((m, i) => (matchesFilter(node, m) ? [`r${i}`] : [])).sort()
                const where = JSON.stringify(filter)
                expect(await store.count(collection, filter), `count ${where}`).toBe(expected.length)
                const matches = await store.query(collection, {
                  vector: [1, 1, 1, 1],
                  topK: records.length,
                  filter,
                })
                expect(matches.map((m) => m.id).sort(), `query ${where}`).toEqual(expected)
                const scanned: string[] = []
                for await (const batch of store.scan(collection, { filter, batchSize: 7 })) {
                  scanned.push(...batch.map((r) => r.id))
                }
                expect(scanned.sort(), `scan ${where}`).toEqual(expected)
                compared++
                if (expected.length > 0 && expected.length < records.length) split++
              }
              const [first] = trees as [Filter]
              const doomed = records.filter((m) => matchesFilter(validateFilter(first), m)).length
              expect(
                await store.delete(collection, { filter: first }),
                `delete ${JSON.stringify(first)}`,
              ).toBe(doomed)
              expect(await store.count(collection)).toBe(records.length - doomed)
            } finally {
              await store.dropCollection(collection)
            }
          },
        ),
        { numRuns: RUNS, seed, endOnFailure: false },
      )
      // Enough generated filters split the records that the comparison is not vacuous.
      expect(split).toBeGreaterThan(compared / 5)
      // What a store cannot evaluate is refused as UNSUPPORTED, never silently dropped.
      const refused: Filter[] = [
        ...FILTER_OPERATORS.filter((op) => !ability.operators.includes(op)).map(
          (op): Filter =>
            op === '$and' || op === '$or'
              ? { [op]: [{ f: 1 }] }
              : { f: { [op]: op === '$exists' ? true : op.endsWith('in') ? [1] : 1 } },
        ),
        ...(ability.stringRanges ? [] : [{ f: { $gt: 'a' } } as Filter]),
      ]
      await store.createCollection('unsupported', { dimension: 4 })
      try {
        for (const filter of refused) {
          const error = await store.count('unsupported', filter).catch((e: unknown) => e)
          expect(error, JSON.stringify(filter)).toBeInstanceOf(StorageError)
          expect((error as StorageError).code, JSON.stringify(filter)).toBe('UNSUPPORTED')
        }
      } finally {
        await store.dropCollection('unsupported')
      }
      printFigures(FILE, name, {
        runs: RUNS,
        filtersCompared: compared,
        filtersThatSplitTheRecords: split,
        differences: 0,
        refusedAsUnsupported: refused.length,
      })
    })
  }
})
