import type { StorageAdapter } from '@engram/core'
import { describe } from 'vitest'
import { basicTests } from './storage-suite-basics.js'
import { errorTests } from './storage-suite-errors.js'
import { useStorageContext } from './storage-suite-harness.js'
import { parameterTests } from './storage-suite-parameters.js'
import { type PersistenceHooks, persistenceTests } from './storage-suite-persistence.js'
import { streamingTests } from './storage-suite-streaming.js'
import { transactionTests } from './storage-suite-transactions.js'

export type { PersistenceHooks } from './storage-suite-persistence.js'

/** The switchable groups of the storage suite. */
export type StorageSuiteGroup =
  | 'basics'
  | 'parameters'
  | 'transactions'
  | 'errors'
  | 'streaming'
  | 'persistence'

/** Options for `describeStorageAdapter`. */
export interface StorageSuiteOptions {
  /** Turn groups off with `false`. All are on by default. */
  groups?: Partial<Record<StorageSuiteGroup, boolean>>
  /** Hooks for the persistence group; it is skipped without them. */
  persistence?: PersistenceHooks
  /** Rows the bounded-memory streaming test reads. Default is `200_000` (about 200 MB if held at once). */
  streamRows?: number
  /** Runs after each test, after the adapter is closed. */
  cleanup?: () => Promise<void>
  /**
   * Whether integers beyond 2^53 read back exactly. Drivers behind a JSON bridge (Capacitor)
   * set `false`: they must still store such integers exactly, but the read-back is not checked.
   * Default is `true`.
   */
  exactLargeIntegers?: boolean
}

/**
 * Registers the storage conformance suite for a driver with vitest. `open` returns a fresh
 * adapter for each test; the suite closes it.
 *
 * @example
 * describeStorageAdapter('sqlite-native', async () => createSqliteNativeAdapter({ filename: ':memory:' }))
 */
export function describeStorageAdapter(
  name: string,
  open: () => Promise<StorageAdapter>,
  options: StorageSuiteOptions = {},
): void {
  const enabled = (group: StorageSuiteGroup): boolean => options.groups?.[group] !== false
  const hooks = options.persistence

  describe(`StorageAdapter conformance: ${name}`, () => {
    const ctx = useStorageContext(open, options.cleanup)
    describe.runIf(enabled('basics'))('basics', () => basicTests(ctx))
    describe.runIf(enabled('parameters'))('parameters and values', () =>
      parameterTests(ctx, options.exactLargeIntegers !== false),
    )
    describe.runIf(enabled('transactions'))('transactions and concurrency', () => transactionTests(ctx))
    describe.runIf(enabled('errors'))('errors', () => errorTests(ctx))
    describe.runIf(enabled('streaming'))('streaming', () =>
      streamingTests(ctx, options.streamRows ?? 200_000),
    )
    // A skipped group still registers its tests (so they are listed as skipped), never runs them.
    describe.runIf(enabled('persistence') && hooks !== undefined)('persistence', () =>
      persistenceTests(ctx, hooks as PersistenceHooks),
    )
  })
}
