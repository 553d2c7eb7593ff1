import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'

/** The test database; CI starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** A fresh schema name nothing uses yet. */
export function freshName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}

/** A URL whose connections use `schema` first (and `public`, where pgvector's type lives). */
export function schemaUrl(schema: string): string {
  const url = new URL(PG_URL)
  url.searchParams.set('options', `-c search_path=${schema},public`)
  return url.toString()
}

/** Creates fresh Postgres schemas and SQLite folders for one test file, and removes them all at the end. */
export function scratch(prefix: string) {
  const schemas: string[] = []
  const folders: string[] = []
  const adapters: StorageAdapter[] = []
  const admin = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
  return {
    /** A new empty schema and a URL into it. */
    async schema(): Promise<{ name: string; url: string }> {
      const name = freshName(prefix)
      await admin.exec(`CREATE SCHEMA ${name}`)
      schemas.push(name)
      return { name, url: schemaUrl(name) }
    },
    /** An adapter on a schema, closed at the end. */
    postgres(schema: string): StorageAdapter {
      const db = createPostgresAdapter({ connectionString: PG_URL, searchPath: [schema, 'public'], max: 4 })
      adapters.push(db)
      return db
    },
    /** A path in a new folder; the file does not exist yet. */
    file(name = 'db.sqlite'): string {
      const folder = mkdtempSync(join(tmpdir(), `${prefix}-`))
      folders.push(folder)
      return join(folder, name)
    },
    /** A SQLite adapter on `path`, closed at the end. */
    sqlite(path: string): StorageAdapter {
      const db = createSqliteNativeAdapter({ filename: path })
      adapters.push(db)
      return db
    },
    /** Tables in a schema, by name. */
    async tablesIn(schema: string): Promise<string[]> {
      const rows = await admin.all<{ t: string }>(
        'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY 1',
        [schema],
      )
      return rows.map((r) => r.t)
    },
    admin,
    async cleanup(): Promise<void> {
      for (const db of adapters) await db.close().catch(() => undefined)
      for (const name of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
      await admin.close()
      for (const folder of folders) rmSync(folder, { recursive: true, force: true })
    },
  }
}
