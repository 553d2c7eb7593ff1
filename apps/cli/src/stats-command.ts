import { statSync } from 'node:fs'
import { isStorageError, type StorageAdapter, StorageError } from '@engram/core'
import { type Command, count, say } from './command.js'
import { openDatabase } from './endpoints.js'

/** `engram stats <db>`: what a database holds. */
export const statsCommand: Command = {
  name: 'stats',
  summary: 'show what a database holds: tables and rows, vector collections, schema versions, migrations',
  usage: 'engram stats <db> [--json]',
  help: `Lists the driver, every table with its row count, every vector collection with its dimension,
metric and size, the engram schema versions recorded in engram_migrations, and the checkpoints
of migrations into this database (finished or stopped).

  --json              print one JSON result and nothing else on stdout`,
  positionals: [1, 1],
  options: {},
  async run({ positionals, json, io }) {
    const text = positionals[0] as string
    const db = await openDatabase(text)
    try {
      const storage = db.storage
      const { readSchema, CHECKPOINT_TABLE } = await import('@engram/migrate')
      const tables: Array<{ name: string; rows: number }> = []
      let hasVectors = storage === undefined
      if (storage) {
        const schema = await readSchema(storage)
        hasVectors = schema.hasVectorEngine
        for (const table of schema.tables) {
          const row = await storage.get<{ n: number | string }>(
            `SELECT COUNT(*) AS n FROM "${table.name.replace(/"/g, '""')}"`,
          )
          tables.push({ name: table.name, rows: Number(row?.n ?? 0) })
        }
      }
      const collections: Array<{ name: string; dimension: number; metric: string; count: number }> = []
      if (hasVectors) {
        const store = await db.vectors()
        for (const name of await store.listCollections()) {
          const info = await store.describeCollection(name)
          if (info)
            collections.push({ name, dimension: info.dimension, metric: info.metric, count: info.count })
        }
      }
      const result = {
        database: storage
          ? { kind: storage.kind, dialect: storage.dialect, ...(await where(storage, text)) }
          : undefined,
        tables,
        collections,
        schemaVersions: storage
          ? await optional(
              storage,
              'SELECT component, MAX(version) AS version FROM engram_migrations GROUP BY component ORDER BY component',
            )
          : [],
        migrations: storage
          ? await optional(
              storage,
              `SELECT job, item, copied, done FROM ${CHECKPOINT_TABLE} ORDER BY job, item`,
            )
          : [],
      }
      if (!json) {
        if (result.database)
          say(io.stdout, `${result.database.kind} (${result.database.dialect}) ${result.database.location}`)
        for (const t of tables) say(io.stdout, `  table      ${t.name}: ${count(t.rows)} rows`)
        for (const c of collections) {
          say(
            io.stdout,
            `  collection ${c.name}: ${count(c.count)} vectors, ${c.dimension} dimensions, ${c.metric}`,
          )
        }
        for (const v of result.schemaVersions)
          say(io.stdout, `  schema     ${v.component}: version ${v.version}`)
        for (const m of result.migrations) {
          say(
            io.stdout,
            `  migration  ${m.job} ${m.item}: ${count(Number(m.copied))} copied, ${Number(m.done) === 1 ? 'done' : 'stopped'}`,
          )
        }
      }
      return { code: 0, result }
    } finally {
      await db.close()
    }
  },
}

/** Where the database lives: its file and size, or its server's version. */
async function where(
  db: StorageAdapter,
  text: string,
): Promise<{ location: string; bytes?: number; server?: string }> {
  if (db.dialect === 'sqlite') {
    const row = await db.get<{ file: string | null }>(
      `SELECT file FROM pragma_database_list WHERE name = 'main'`,
    )
    const file = row?.file || text
    let bytes: number | undefined
    try {
      bytes = statSync(file).size
    } catch {
      bytes = undefined
    }
    return { location: file, ...(bytes === undefined ? {} : { bytes }) }
  }
  const row = await db.get<{ version: string; db: string; schema: string }>(
    `SELECT current_setting('server_version') AS version, current_database() AS db, current_schema() AS schema`,
  )
  if (!row) throw new StorageError('QUERY_FAILED', 'The server did not say where it is')
  return { location: `database ${row.db}, schema ${row.schema}`, server: `PostgreSQL ${row.version}` }
}

/** Rows of a query on a table that may not exist. */
async function optional<T = Record<string, unknown>>(db: StorageAdapter, sql: string): Promise<T[]> {
  try {
    return await db.all<T>(sql)
  } catch (error) {
    if (isStorageError(error, 'NOT_FOUND')) return []
    throw error
  }
}
