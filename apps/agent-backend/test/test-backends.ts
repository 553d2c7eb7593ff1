import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { Memory } from '@engram/memory'
import { createPostgresAdapter } from '@engram/postgres'

/** The real PostgreSQL the suites run against. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** A memory on one backend, and how to tear it all down again. */
export interface TestBackend {
  /** Shown in the suite names. */
  name: string
  /** The `storage.kind` the memory reports. */
  storageKind: string
  /** The `vectors.kind` the memory reports. */
  vectorsKind: string
  /** Opens a fresh, empty memory. */
  open(): Promise<Memory>
  /** Closes what `open` opened and removes its data. */
  cleanup(): Promise<void>
}

/** The embedded default: a SQLite file in a temporary folder. */
export function sqliteBackend(): TestBackend {
  const folder = mkdtempSync(join(tmpdir(), 'engram-agent-backend-'))
  let memory: Memory | undefined
  return {
    name: 'the embedded SQLite default',
    storageKind: 'sqlite-native',
    vectorsKind: 'sqlite-vector',
    async open() {
      memory = await Memory.open({ path: join(folder, 'memory.db') })
      return memory
    },
    async cleanup() {
      await memory?.close()
      rmSync(folder, { recursive: true, force: true })
    },
  }
}

/** PostgreSQL with pgvector, in a fresh schema dropped (CASCADE) at the end. */
export function postgresBackend(): TestBackend {
  const schema = freshSchemaName()
  let admin: StorageAdapter | undefined
  let storage: StorageAdapter | undefined
  let memory: Memory | undefined
  return {
    name: 'PostgreSQL with pgvector',
    storageKind: 'postgres',
    vectorsKind: 'pgvector',
    async open() {
      admin = await createSchema(schema)
      // pgvector's types live in public, so it stays on the search path after the test's schema.
      storage = createPostgresAdapter({ connectionString: PG_URL, searchPath: [schema, 'public'], max: 4 })
      memory = await Memory.open({ storage })
      return memory
    },
    async cleanup() {
      await memory?.close()
      await storage?.close()
      await dropSchema(admin, schema)
    },
  }
}

/** A schema name no other run uses. */
export function freshSchemaName(): string {
  return `engram_app_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}

/** Creates a schema through an admin connection, which the caller hands back to `dropSchema`. */
export async function createSchema(schema: string): Promise<StorageAdapter> {
  const admin = createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  try {
    await admin.exec(`CREATE SCHEMA ${schema}`)
  } catch (error) {
    await admin.close().catch(() => undefined)
    throw new Error(
      `These tests need PostgreSQL with pgvector at ${PG_URL} (set ENGRAM_PG_URL): ${(error as Error).message}`,
    )
  }
  return admin
}

/** Drops a schema made by `createSchema` and closes the admin connection. */
export async function dropSchema(admin: StorageAdapter | undefined, schema: string): Promise<void> {
  if (admin === undefined) return
  try {
    await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await admin.close()
  }
}
