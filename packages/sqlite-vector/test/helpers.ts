import type { StorageAdapter } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { onTestFinished } from 'vitest'

// The suites' seeded generators, so tests here draw the same kind of data as the conformance suite.
export { randomVectors as vectors, seededRandom as seeded } from '@engram/conformance'

/** The same adapter reporting another full-text capability, as sql.js (FTS4 only) or a build without FTS would. */
export function withFts(adapter: StorageAdapter, fts: 'fts4' | false): StorageAdapter {
  return new Proxy(adapter, {
    get(target, key, receiver) {
      if (key === 'capabilities') return { ...target.capabilities, fts }
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** Opens a better-sqlite3 adapter that is closed when the current test finishes (stores never close theirs). */
export function openAdapter(filename = ':memory:'): StorageAdapter {
  const adapter = createSqliteNativeAdapter({ filename })
  onTestFinished(() => adapter.close())
  return adapter
}

/** The same adapter, counting the statements each method runs (`get`, `all`, `run`, `exec`) and keeping their SQL. */
export function countingStatements(adapter: StorageAdapter): {
  adapter: StorageAdapter
  counts: Record<'get' | 'all' | 'run' | 'exec', number>
  sql: string[]
} {
  const counts = { get: 0, all: 0, run: 0, exec: 0 }
  const sql: string[] = []
  const counted = new Proxy(adapter, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function') return value
      if (key in counts) {
        return (...args: unknown[]) => {
          counts[key as keyof typeof counts]++
          sql.push(String(args[0]))
          return value.apply(target, args)
        }
      }
      return value.bind(target)
    },
  })
  return { adapter: counted, counts, sql }
}
