import type {
  CollectionSpec,
  FilterNode,
  StorageErrorCode,
  VectorMatch,
  VectorMetric,
  VectorRecord,
  VectorStore,
} from '@engram/core'
import { matchesFilter } from '@engram/core'
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest'

/** The suite's settings after defaults are filled in. */
export interface SuiteSettings {
  /** Opens a fresh store. */
  open: () => Promise<VectorStore>
  /** Waits until earlier writes are visible. */
  settle: () => Promise<void>
  /** Runs after each store the suite opened has been closed. */
  cleanup: () => Promise<void>
  /** Relative tolerance for scores and vector components. */
  tolerance: number
  /** Whether ranking checks on generated data use recall instead of exact order. */
  approximate: boolean
}

/** What a test skips itself with (vitest's test context). */
export interface Skipper {
  skip(condition: boolean, note?: string): void
}

/** One test's store plus helpers that name collections uniquely and drop them afterwards. */
export interface StoreHarness {
  /** The store opened for the current test. */
  readonly store: VectorStore
  /** Creates a collection with a unique name (dropped after the test) and returns the name. */
  collection(spec: CollectionSpec): Promise<string>
  /** Reserves a unique collection name that is dropped after the test, without creating it. */
  reserve(suffix?: string): string
  /** Upserts records and waits for them to be visible. */
  load(collection: string, records: readonly VectorRecord[]): Promise<void>
  /** Waits until earlier writes are visible. */
  settle(): Promise<void>
  /** Skips the test when the store does not support `metric`. */
  requireMetric(ctx: Skipper, metric: VectorMetric): void
}

/** A unique collection name, such as `c_3fa94b1c07de`. */
export function uniqueCollectionName(): string {
  const bytes = new Uint8Array(6)
  globalThis.crypto.getRandomValues(bytes)
  return `c_${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/**
 * Registers hooks that open a fresh store before each test and, after it, drop the test's
 * collections and close the store. A test may close the store itself: the collections are
 * then dropped through a newly opened one, so shared remote stores are left clean.
 */
export function useStore(settings: SuiteSettings): StoreHarness {
  let current: VectorStore | undefined
  let names: string[] = []

  beforeEach(async () => {
    names = []
    current = await settings.open()
  })

  afterEach(async () => {
    const store = current
    current = undefined
    if (!store) return
    try {
      await dropCollections(store, names, settings.open)
    } finally {
      await store.close()
      await settings.cleanup()
    }
  })

  const harness: StoreHarness = {
    get store(): VectorStore {
      if (!current) throw new Error('The store is only available inside a test')
      return current
    },
    async collection(spec) {
      const name = harness.reserve()
      await harness.store.createCollection(name, spec)
      await settings.settle()
      return name
    },
    reserve(suffix) {
      const name = suffix === undefined ? uniqueCollectionName() : `${uniqueCollectionName()}_${suffix}`
      names.push(name)
      return name
    },
    async load(collection, records) {
      await harness.store.upsert(collection, records)
      await settings.settle()
    },
    settle: () => settings.settle(),
    requireMetric(ctx, metric) {
      ctx.skip(!harness.store.capabilities.metrics.includes(metric), `${metric} is not supported`)
    },
  }
  return harness
}

/** A store and one loaded collection shared by every test of a describe block. */
export interface SharedCollection {
  /** The store, open for the whole block. */
  readonly store: VectorStore
  /** The collection's name. */
  readonly name: string
}

/**
 * Registers hooks that open one store for a whole describe block and load one collection
 * into it. Used where loading per test would be slow and every test only reads.
 */
export function useSharedCollection(
  settings: SuiteSettings,
  spec: CollectionSpec,
  records: readonly VectorRecord[],
): SharedCollection {
  let store: VectorStore | undefined
  const name = uniqueCollectionName()

  beforeAll(async () => {
    store = await settings.open()
    await store.createCollection(name, spec)
    await store.upsert(name, records)
    await settings.settle()
  })

  afterAll(async () => {
    if (!store) return
    try {
      await dropCollections(store, [name], settings.open)
    } finally {
      await store.close()
      store = undefined
      await settings.cleanup()
    }
  })

  return {
    get store(): VectorStore {
      if (!store) throw new Error('The shared store is only available inside a test')
      return store
    },
    name,
  }
}

async function dropCollections(
  store: VectorStore,
  names: readonly string[],
  open: () => Promise<VectorStore>,
) {
  if (names.length === 0) return
  try {
    for (const name of names) await store.dropCollection(name)
  } catch (error) {
    if (errorCode(error) !== 'CLOSED') throw error
    const fresh = await open()
    try {
      for (const name of names) await fresh.dropCollection(name)
    } finally {
      await fresh.close()
    }
  }
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
}

/**
 * Asserts that `action` fails (synchronously or asynchronously) with a `StorageError` of
 * `code`. Checked by name and code rather than `instanceof`, so a store bundling its own copy
 * of core still passes.
 */
export async function expectCode(action: () => unknown, code: StorageErrorCode): Promise<void> {
  let caught: unknown
  let failed = false
  try {
    await action()
  } catch (error) {
    caught = error
    failed = true
  }
  expect(failed, `expected a StorageError with code ${code}, but the call succeeded`).toBe(true)
  const described = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)
  expect(caught instanceof Error ? caught.name : undefined, described).toBe('StorageError')
  expect(errorCode(caught), described).toBe(code)
}

/** Reads a whole scan, batch by batch. */
export async function collectBatches(batches: AsyncIterable<VectorRecord[]>): Promise<VectorRecord[][]> {
  const out: VectorRecord[][] = []
  for await (const batch of batches) out.push(batch)
  return out
}

/** The ids of records or matches, sorted, for set comparisons. */
export function sortedIds(items: ReadonlyArray<{ id: string }>): string[] {
  return items.map((item) => item.id).sort()
}

/** The ids of `records` that core's reference evaluator accepts for `node`, sorted. */
export function referenceIds(records: readonly VectorRecord[], node: FilterNode): string[] {
  return sortedIds(records.filter((record) => matchesFilter(node, record.metadata)))
}

/** Whether `actual` is within `tolerance` of `expected`, relative to its size (at least 1). */
export function isClose(actual: number, expected: number, tolerance: number): boolean {
  return Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected))
}

/** Asserts that a score is within tolerance of the expected value. */
export function expectScore(
  actual: number | undefined,
  expected: number,
  tolerance: number,
  label = 'score',
): void {
  expect(typeof actual, `${label} must be a number`).toBe('number')
  expect(
    isClose(actual as number, expected, tolerance),
    `${label}: got ${actual}, expected ${expected}`,
  ).toBe(true)
}

/** Asserts that `actual` is a `Float32Array` equal to `expected` within tolerance. */
export function expectVector(actual: unknown, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual).toBeInstanceOf(Float32Array)
  const vector = actual as Float32Array
  expect(vector.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    expectScore(vector[i], expected[i] as number, tolerance, `component ${i}`)
  }
}

/** Asserts that scores never increase down the list. */
export function expectDescending(matches: readonly VectorMatch[]): void {
  for (let i = 1; i < matches.length; i++) {
    const previous = matches[i - 1] as VectorMatch
    const match = matches[i] as VectorMatch
    expect(
      match.score,
      `match ${i} (${match.id}) scores above match ${i - 1} (${previous.id})`,
    ).toBeLessThanOrEqual(previous.score)
  }
}

/**
 * Asserts that `matches` is the best-first top of `expected` (every candidate with its exact
 * score, best first). Position i may hold any id whose exact score ties the i-th expected
 * score within tolerance, so float rounding in the store cannot make the check flaky.
 */
export function expectExactRanking(
  matches: readonly VectorMatch[],
  expected: ReadonlyArray<{ id: string; score: number }>,
  tolerance: number,
): void {
  const top = expected.slice(0, matches.length)
  expect(matches.length, 'more matches than candidates').toBe(top.length)
  expect(new Set(matches.map((m) => m.id)).size, 'ids repeat').toBe(matches.length)
  matches.forEach((match, i) => {
    const wanted = top[i] as { id: string; score: number }
    if (match.id === wanted.id) return
    const tied = expected
      .filter((candidate) => isClose(candidate.score, wanted.score, tolerance))
      .map((c) => c.id)
    expect(tied, `position ${i}: got ${match.id}, expected ${wanted.id} (score ${wanted.score})`).toContain(
      match.id,
    )
  })
}

/** The fraction of `expectedIds` present among `matches`. */
export function recall(matches: ReadonlyArray<{ id: string }>, expectedIds: readonly string[]): number {
  const found = new Set(matches.map((m) => m.id))
  return expectedIds.filter((id) => found.has(id)).length / expectedIds.length
}
