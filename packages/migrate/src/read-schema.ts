import { type SqlDialect, type StorageAdapter, StorageError } from '@engram/core'
import type { TableSchema } from './export-format.js'
import { listPostgresTables, readPostgresTables } from './postgres-schema.js'
import { listSqliteTables, readSqliteTable } from './sqlite-schema.js'

/** The table in a target where migrations record how far they got. */
export const CHECKPOINT_TABLE = 'engram_migrate_checkpoints'

/** A database's tables as migration sees them. */
export interface DatabaseSchema {
  /** The adapter's dialect. */
  readonly dialect: SqlDialect
  /** The tables to copy, each parent before the tables whose foreign keys reference it. */
  readonly tables: readonly TableSchema[]
  /** Whether the database holds a vector engine's tables (its collections move store to store, not as rows). */
  readonly hasVectorEngine: boolean
  /** Virtual tables (SQLite FTS, R-tree), which cannot be copied row by row. */
  readonly virtualTables: readonly string[]
}

/** Options for `readSchema`. */
export interface ReadSchemaOptions {
  /** Only these tables. Default is every table except the vector engines' and the checkpoint table. */
  tables?: readonly string[]
}

/**
 * Whether a table belongs to engram itself rather than to the application: the vector engines'
 * registry and collection tables (SQLite `engram_collections`, `engram_vec_*`, `engram_fts_*`,
 * `engram_gone_*`; pgvector `engram_collections`, `engram_v*`) and the checkpoint table.
 */
export function isInternalTable(dialect: SqlDialect, name: string): boolean {
  if (name === CHECKPOINT_TABLE || name === 'engram_collections') return true
  return dialect === 'sqlite' ? /^engram_(vec|fts|gone)_\d+($|_)/.test(name) : /^engram_v\d+$/.test(name)
}

/** Whether a database holds a vector engine's registry (`engram_collections`), so it has collections to move. */
export async function hasVectorEngine(db: StorageAdapter): Promise<boolean> {
  if (db.dialect === 'sqlite')
    return (await listSqliteTables(db)).some((t) => t.name === 'engram_collections')
  return (await listPostgresTables(db)).includes('engram_collections')
}

/** Reads the tables of a database from its catalog (SQLite's pragmas, Postgres's pg_catalog). */
export async function readSchema(
  db: StorageAdapter,
  options: ReadSchemaOptions = {},
): Promise<DatabaseSchema> {
  const dialect = db.dialect
  let names: string[]
  let virtual: string[] = []
  if (dialect === 'sqlite') {
    const entries = await listSqliteTables(db)
    names = entries.filter((e) => e.type === 'table').map((e) => e.name)
    virtual = entries.filter((e) => e.type === 'virtual').map((e) => e.name)
  } else if (dialect === 'postgres') {
    names = await listPostgresTables(db)
  } else {
    throw new StorageError(
      'UNSUPPORTED',
      `Migration reads SQLite and Postgres catalogs; got dialect ${dialect}`,
    )
  }
  const hasVectorEngine = names.includes('engram_collections')
  const own = names.filter((name) => !isInternalTable(dialect, name))
  const ownVirtual = virtual.filter((name) => !isInternalTable(dialect, name))
  let chosen = own
  if (options.tables !== undefined) {
    chosen = pickTables(dialect, options.tables, own, [...names, ...virtual])
    virtual = ownVirtual.filter((name) => options.tables?.includes(name))
  } else {
    virtual = ownVirtual
  }
  const tables =
    dialect === 'sqlite'
      ? await Promise.all(chosen.map((name) => readSqliteTable(db, name)))
      : await readPostgresTables(db, chosen)
  return { dialect, tables: orderByDependencies(tables), hasVectorEngine, virtualTables: virtual }
}

function pickTables(
  dialect: SqlDialect,
  wanted: readonly string[],
  own: readonly string[],
  all: readonly string[],
): string[] {
  if (!Array.isArray(wanted) || wanted.some((name) => typeof name !== 'string')) {
    throw new StorageError('INVALID_ARGUMENT', 'tables must be a list of table names')
  }
  const picked: string[] = []
  for (const name of wanted) {
    if (isInternalTable(dialect, name)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${name} belongs to engram's vector engine or to migration itself; vectors move as collections (the collections option), not as rows`,
      )
    }
    if (!all.includes(name)) {
      throw new StorageError(
        'NOT_FOUND',
        `There is no table ${name} in the source; it has ${own.length === 0 ? 'no tables' : own.join(', ')}`,
      )
    }
    if (own.includes(name) && !picked.includes(name)) picked.push(name)
  }
  return picked
}

/**
 * Sorts tables so each comes after the tables its foreign keys reference (a table referring to
 * itself is fine); ties and cycles fall back to name order.
 */
export function orderByDependencies(tables: readonly TableSchema[]): TableSchema[] {
  const byName = new Map(tables.map((t) => [t.name, t]))
  const pending = [...tables].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const placed = new Set<string>()
  const ordered: TableSchema[] = []
  while (pending.length > 0) {
    const ready = pending.findIndex((t) =>
      t.foreignKeys.every((fk) => fk.table === t.name || placed.has(fk.table) || !byName.has(fk.table)),
    )
    const [next] = pending.splice(ready === -1 ? 0 : ready, 1)
    if (next === undefined) break
    placed.add(next.name)
    ordered.push(next)
  }
  return ordered
}
