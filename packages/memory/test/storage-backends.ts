import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatabaseOptions, StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'

/** The test database; CI starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** One empty database made for one test. */
export interface TestDatabase {
  /** Opens an adapter on it; on `:memory:` every call is a new, empty database (see `shared`). */
  open(options?: { busyTimeout?: number }): StorageAdapter
  /** What `createDatabase` (and `ConversationMemory.open`) takes to reach it. */
  target: string | DatabaseOptions
  /** Whether two adapters from `open()` see the same data. */
  shared: boolean
}

/** A backend the suites run on. */
export interface TestBackend {
  /** Shown in the test names. */
  name: string
  /** The dialect its adapters speak. */
  dialect: 'sqlite' | 'postgres'
  /** Makes a new, empty database. */
  create(): Promise<TestDatabase>
  /** Closes every adapter `open()` handed out, so a failed test leaks nothing. */
  closeAll(): Promise<void>
  /** Removes everything `create()` made. */
  cleanup(): Promise<void>
}

function tracker(): { track: (a: StorageAdapter) => StorageAdapter; closeAll: () => Promise<void> } {
  const opened: StorageAdapter[] = []
  return {
    track(adapter) {
      opened.push(adapter)
      return adapter
    },
    async closeAll() {
      for (const adapter of opened.splice(0)) await adapter.close().catch(() => undefined)
    },
  }
}

/** better-sqlite3 in memory: each database lives in one adapter. */
export function sqliteMemoryBackend(): TestBackend {
  const { track, closeAll } = tracker()
  return {
    name: 'sqlite-native :memory:',
    dialect: 'sqlite',
    async create() {
      return {
        open: () => track(createSqliteNativeAdapter({ filename: ':memory:' })),
        target: { type: 'sqlite-native', filename: ':memory:' },
        shared: false,
      }
    },
    closeAll,
    cleanup: closeAll,
  }
}

/** better-sqlite3 on a WAL file in a temporary folder. */
export function sqliteFileBackend(): TestBackend {
  const { track, closeAll } = tracker()
  let folder: string | undefined
  let count = 0
  return {
    name: 'sqlite-native file',
    dialect: 'sqlite',
    async create() {
      folder ??= mkdtempSync(join(tmpdir(), 'engram-conversation-'))
      const filename = join(folder, `db-${++count}.sqlite`)
      return {
        open: (options = {}) => track(createSqliteNativeAdapter({ filename, ...options })),
        target: filename,
        shared: true,
      }
    },
    closeAll,
    async cleanup() {
      await closeAll()
      if (folder) rmSync(folder, { recursive: true, force: true })
    },
  }
}

/** The real PostgreSQL at `ENGRAM_PG_URL`: every database is a fresh schema, dropped at the end. */
export function postgresBackend(): TestBackend {
  const { track, closeAll } = tracker()
  const schemas: string[] = []
  let admin: StorageAdapter | undefined
  return {
    name: 'postgres',
    dialect: 'postgres',
    async create() {
      admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
      const schema = `engram_cm_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
      try {
        await admin.exec(`CREATE SCHEMA ${schema}`)
      } catch (error) {
        throw new Error(
          `These tests need PostgreSQL at ${PG_URL} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
        )
      }
      schemas.push(schema)
      return {
        open: () => track(createPostgresAdapter({ connectionString: PG_URL, searchPath: schema, max: 4 })),
        target: { type: 'postgres', connectionString: PG_URL, searchPath: schema, max: 4 },
        shared: true,
      }
    },
    closeAll,
    async cleanup() {
      await closeAll()
      if (admin === undefined) return
      for (const schema of schemas.splice(0)) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.close()
      admin = undefined
    },
  }
}

/** Every backend the conversation suites run on. */
export function allBackends(): TestBackend[] {
  return [sqliteMemoryBackend(), sqliteFileBackend(), postgresBackend()]
}
