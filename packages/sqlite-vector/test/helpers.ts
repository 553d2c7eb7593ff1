import type { StorageAdapter } from '@engram/core'

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

/**
 * Remembers adapters so a test (or the conformance suite's `cleanup` hook) can close them: the
 * store never closes an adapter it was given.
 */
export function adapters(): { track<T extends StorageAdapter>(adapter: T): T; closeAll(): Promise<void> } {
  const opened: StorageAdapter[] = []
  return {
    track(adapter) {
      opened.push(adapter)
      return adapter
    },
    async closeAll() {
      for (const adapter of opened.splice(0)) await adapter.close()
    },
  }
}
