import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'

/** The PostgreSQL the tests use (pgvector not needed). */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** Fresh schemas on the real PostgreSQL, each with its own adapter; `cleanup()` drops them all. */
export function postgresSchemas() {
  const admin = createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  const made: Array<{ schema: string; db: StorageAdapter }> = []
  return {
    /** A new, empty schema and an adapter whose search path is that schema. */
    async create(): Promise<StorageAdapter> {
      const schema = `engram_backup_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
      try {
        await admin.exec(`CREATE SCHEMA ${schema}`)
      } catch (error) {
        throw new Error(
          `These tests need PostgreSQL at ${PG_URL} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
        )
      }
      const db = createPostgresAdapter({ connectionString: PG_URL, searchPath: schema, max: 4 })
      made.push({ schema, db })
      return db
    },
    async cleanup(): Promise<void> {
      for (const { schema, db } of made.splice(0)) {
        await db.close()
        await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      }
      await admin.close()
    },
  }
}
