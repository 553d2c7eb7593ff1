import {
  FILTER_OPERATORS,
  type Filter,
  isStorageError,
  type StorageErrorCode,
  type VectorCapabilities,
  validateFilter,
} from '@engram/core'
import { describe, expect, it } from 'vitest'
import {
  FILTER_CASES,
  FILTER_DATA_SIZE,
  FILTER_DIMENSION,
  type FilterCase,
  type FixtureRecord,
  filterDataSet,
  INVALID_FILTERS,
  OPERATOR_EXAMPLES,
} from './vector-fixtures.js'
import {
  collectBatches,
  expectCode,
  referenceIds,
  type SuiteSettings,
  sortedIds,
  useSharedCollection,
  useStore,
} from './vector-suite-harness.js'

const QUERY_VECTOR = Array.from({ length: FILTER_DIMENSION }, (_, i) => (i % 2 === 0 ? 1 : -0.5))

/** Asserts the case is not vacuous: its reference set has the declared size and its traps occur. */
function checkCase(
  testCase: FilterCase,
  records: readonly FixtureRecord[],
  expected: readonly string[],
): void {
  if (testCase.expect === 'none') expect(expected, 'the case must match nothing').toEqual([])
  else if (testCase.expect === 'all')
    expect(expected, 'the case must match everything').toHaveLength(FILTER_DATA_SIZE)
  else {
    expect(expected.length, 'the case must match some records').toBeGreaterThan(0)
    expect(expected.length, 'the case must not match every record').toBeLessThan(FILTER_DATA_SIZE)
  }
  const accepted = new Set(expected)
  if (testCase.accepts) {
    const hit = records.some((r) => accepted.has(r.id) && testCase.accepts?.(r.metadata))
    expect(hit, 'the data set must contain an accepted record of the probed kind').toBe(true)
  }
  if (testCase.rejects) {
    const hit = records.some((r) => !accepted.has(r.id) && testCase.rejects?.(r.metadata))
    expect(hit, 'the data set must contain a rejected record of the probed kind').toBe(true)
  }
}

/** Whether the store declares every operator `filter` uses (and string ranges, where it has them). */
function supports(capabilities: VectorCapabilities, filter: Filter): boolean {
  try {
    validateFilter(filter, {
      operators: capabilities.operators,
      stringRanges: capabilities.stringRanges ?? true,
    })
    return true
  } catch (error) {
    if (isStorageError(error, 'UNSUPPORTED')) return false
    throw error
  }
}

/** The code core's validator rejects `filter` with, for a store honouring `operators`. */
function rejection(filter: unknown, operators: readonly string[]): StorageErrorCode | undefined {
  try {
    validateFilter(filter, { operators })
  } catch (error) {
    if (isStorageError(error)) return error.code
    throw error
  }
  return undefined
}

/** The filter language: every store selects exactly what core's `matchesFilter` accepts. */
export function filterTests(settings: SuiteSettings): void {
  describe('filter cases (query and count select exactly what core matchesFilter accepts)', () => {
    const records = filterDataSet()
    const shared = useSharedCollection(settings, { dimension: FILTER_DIMENSION }, records)

    it('the case table uses every operator of the filter language', () => {
      const used = JSON.stringify(FILTER_CASES.map((c) => c.filter))
      for (const op of FILTER_OPERATORS) expect(used, `no case uses ${op}`).toContain(`"${op}"`)
    })

    for (const testCase of FILTER_CASES) {
      it(testCase.name, async () => {
        const expected = referenceIds(records, validateFilter(testCase.filter))
        checkCase(testCase, records, expected)
        const { store, name } = shared
        if (!supports(store.capabilities, testCase.filter)) {
          await expectCode(
            () => store.query(name, { vector: QUERY_VECTOR, filter: testCase.filter }),
            'UNSUPPORTED',
          )
          await expectCode(() => store.count(name, testCase.filter), 'UNSUPPORTED')
          return
        }
        const matches = await store.query(name, {
          vector: QUERY_VECTOR,
          topK: FILTER_DATA_SIZE,
          filter: testCase.filter,
        })
        expect(sortedIds(matches)).toEqual(expected)
        expect(await store.count(name, testCase.filter)).toBe(expected.length)
      })
    }
  })

  describe('filter errors and deletes', () => {
    const h = useStore(settings)

    async function loaded(count = FILTER_DATA_SIZE): Promise<string> {
      const name = await h.collection({ dimension: FILTER_DIMENSION })
      await h.load(name, filterDataSet().slice(0, count))
      return name
    }

    it('delete by filter removes exactly the records core matchesFilter accepts', async (ctx) => {
      const filter: Filter = { $or: [{ tags: 'ai' }, { price: { $lt: 0 } }], active: true }
      ctx.skip(!supports(h.store.capabilities, filter), 'the store lacks $or or $lt')
      const records = filterDataSet()
      const removed = referenceIds(records, validateFilter(filter))
      expect(removed.length).toBeGreaterThan(0)
      const name = await loaded()
      expect(await h.store.delete(name, { filter })).toBe(removed.length)
      await h.settle()
      const left = sortedIds((await collectBatches(h.store.scan(name))).flat())
      expect(left).toEqual(sortedIds(records).filter((id) => !removed.includes(id)))
    })

    for (const { name: label, filter } of INVALID_FILTERS) {
      it(`${label} is INVALID_ARGUMENT in query, count, delete and scan, and changes nothing`, async () => {
        const bad = filter as Filter
        expect(rejection(bad, FILTER_OPERATORS)).toBe('INVALID_ARGUMENT')
        // A store lacking an operator the bad filter uses may refuse it as UNSUPPORTED, as core does.
        const code = rejection(bad, h.store.capabilities.operators) ?? 'INVALID_ARGUMENT'
        const name = await loaded(30)
        await expectCode(() => h.store.query(name, { vector: QUERY_VECTOR, filter: bad }), code)
        await expectCode(() => h.store.count(name, bad), code)
        await expectCode(() => h.store.delete(name, { filter: bad }), code)
        await expectCode(() => collectBatches(h.store.scan(name, { filter: bad })), code)
        await h.settle()
        expect(await h.store.count(name)).toBe(30)
      })
    }

    it('each operator outside capabilities.operators is UNSUPPORTED, never silently ignored', async (ctx) => {
      const { operators } = h.store.capabilities
      const missing = FILTER_OPERATORS.filter((op) => !operators.includes(op))
      ctx.skip(missing.length === 0, 'the store supports every operator')
      const name = await loaded(30)
      for (const op of missing) {
        const filter = OPERATOR_EXAMPLES[op] as Filter
        await expectCode(() => h.store.query(name, { vector: QUERY_VECTOR, filter }), 'UNSUPPORTED')
        await expectCode(() => h.store.count(name, filter), 'UNSUPPORTED')
        await expectCode(() => h.store.delete(name, { filter }), 'UNSUPPORTED')
      }
      await h.settle()
      expect(await h.store.count(name)).toBe(30)
    })
  })
}
