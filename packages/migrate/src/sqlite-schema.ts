import type { StorageAdapter } from '@engram/core'
import type {
  ColumnSchema,
  ForeignKeySchema,
  IndexColumn,
  IndexSchema,
  TableSchema,
} from './export-format.js'
import { quoteName } from './sql-names.js'

/** A table the SQLite catalog lists, before its details are read. */
export interface SqliteTableEntry {
  readonly name: string
  /** `'table'`, or `'virtual'` for a virtual table (FTS, R-tree) that cannot be copied row by row. */
  readonly type: 'table' | 'virtual'
}

/** Every table of the main schema, without SQLite's own and without virtual tables' shadow tables. */
export async function listSqliteTables(db: StorageAdapter): Promise<SqliteTableEntry[]> {
  let rows: Array<{ name: string; type: string }>
  try {
    rows = await db.all(
      `SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') ORDER BY name`,
    )
  } catch {
    // SQLite before 3.37 has no pragma_table_list: shadow tables are then told by their names.
    const all = await db.all<{ name: string; sql: string | null }>(
      `SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name`,
    )
    const virtual = all.filter((t) => /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(t.sql ?? '')).map((t) => t.name)
    rows = all
      .filter((t) => !virtual.some((v) => t.name.startsWith(`${v}_`)))
      .map((t) => ({ name: t.name, type: virtual.includes(t.name) ? 'virtual' : 'table' }))
  }
  return rows
    .filter((row) => !row.name.startsWith('sqlite_'))
    .map((row) => ({ name: row.name, type: row.type === 'virtual' ? 'virtual' : 'table' }))
}

interface ColumnRow {
  name: string
  type: string
  notnull: number
  dflt_value: string | null
  pk: number
  hidden: number
}

const ACTIONS = new Set(['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', 'SET DEFAULT'])

/** Reads one table's columns, key, indexes and foreign keys from SQLite's catalog. */
export async function readSqliteTable(db: StorageAdapter, name: string): Promise<TableSchema> {
  const master = await db.get<{ sql: string | null }>(
    `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`,
    [name],
  )
  const sql = master?.sql ?? ''
  const all = await db.all<ColumnRow>(
    `SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`,
    [name],
  )
  const stored = all.filter((c) => c.hidden === 0)
  const primaryKey = stored
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => c.name)
  const withoutRowid = /\)\s*WITHOUT\s+ROWID\s*;?\s*$/i.test(sql)
  // A single INTEGER primary key of a rowid table is the rowid itself: it numbers new rows.
  const rowidAlias =
    !withoutRowid && primaryKey.length === 1
      ? stored.find((c) => c.name === primaryKey[0] && c.type.toUpperCase() === 'INTEGER')
      : undefined
  const columns: ColumnSchema[] = stored.map((c) => ({
    name: c.name,
    type: c.type,
    notNull: c.notnull === 1 || c === rowidAlias,
    default: c.dflt_value,
    ...(c === rowidAlias ? { identity: 'by-default' as const } : {}),
  }))
  return {
    name,
    columns,
    primaryKey,
    order: (await keyCanOrder(db, name, columns, primaryKey, withoutRowid)) ? 'key' : 'rowid',
    ...(/\bAUTOINCREMENT\b/i.test(sql) ? { autoincrement: true } : {}),
    indexes: await readIndexes(db, name),
    foreignKeys: await readForeignKeys(db, name),
    checks: [],
    generated: all.filter((c) => c.hidden === 2 || c.hidden === 3).map((c) => c.name),
    sql,
  }
}

/**
 * Whether rows can be paged by the primary key. SQLite lets a rowid table's key columns hold
 * NULL (unless declared NOT NULL), and a NULL key cannot be paged past, so such a table is paged
 * by rowid instead.
 */
async function keyCanOrder(
  db: StorageAdapter,
  table: string,
  columns: readonly ColumnSchema[],
  primaryKey: readonly string[],
  withoutRowid: boolean,
): Promise<boolean> {
  if (primaryKey.length === 0) return false
  if (withoutRowid) return true
  const nullable = primaryKey.filter((key) => !columns.find((c) => c.name === key)?.notNull)
  if (nullable.length === 0) return true
  const found = await db.get(
    `SELECT 1 AS found FROM ${quoteName(table)} WHERE ${nullable.map((k) => `${quoteName(k)} IS NULL`).join(' OR ')} LIMIT 1`,
  )
  return found === undefined
}

async function readIndexes(db: StorageAdapter, table: string): Promise<IndexSchema[]> {
  const list = await db.all<{ name: string; unique: number; origin: string; partial: number }>(
    `SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`,
    [table],
  )
  const indexes: IndexSchema[] = []
  for (const entry of list) {
    if (entry.origin === 'pk') continue
    const keys = await db.all<{ cid: number; name: string | null; desc: number }>(
      `SELECT cid, name, "desc" FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`,
      [entry.name],
    )
    const columns: IndexColumn[] | null = keys.every((k) => k.cid >= 0 && k.name !== null)
      ? keys.map((k) => ({ name: k.name as string, descending: k.desc === 1 }))
      : null
    const own = await db.get<{ sql: string | null }>(
      `SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`,
      [entry.name],
    )
    // A UNIQUE constraint's automatic index has no statement and a name SQLite reserves.
    const name = entry.name.startsWith('sqlite_autoindex_')
      ? `${table}_${(columns ?? []).map((c) => c.name).join('_')}_key`
      : entry.name
    const definition =
      own?.sql ??
      `CREATE UNIQUE INDEX ${quoteName(name)} ON ${quoteName(table)} (${(columns ?? [])
        .map((c) => quoteName(c.name) + (c.descending ? ' DESC' : ''))
        .join(', ')})`
    indexes.push({
      name,
      unique: entry.unique === 1,
      columns,
      partial: entry.partial === 1,
      constraint: entry.origin === 'u',
      definition,
    })
  }
  return indexes
}

async function readForeignKeys(db: StorageAdapter, table: string): Promise<ForeignKeySchema[]> {
  const rows = await db.all<{
    id: number
    table: string
    from: string
    to: string | null
    on_update: string
    on_delete: string
  }>(
    `SELECT id, "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`,
    [table],
  )
  const byId = new Map<number, typeof rows>()
  for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row])
  const keys: ForeignKeySchema[] = []
  for (const group of byId.values()) {
    const first = group[0]
    if (first === undefined) continue
    let references = group.map((row) => row.to)
    if (references.some((ref) => ref === null)) {
      // `REFERENCES parent` without columns means the parent's primary key.
      const parentKey = await db.all<{ name: string; pk: number }>(
        'SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk',
        [first.table],
      )
      references = parentKey.map((c) => c.name)
    }
    keys.push({
      columns: group.map((row) => row.from),
      table: first.table,
      references: references as string[],
      onDelete: ACTIONS.has(first.on_delete) ? first.on_delete : 'NO ACTION',
      onUpdate: ACTIONS.has(first.on_update) ? first.on_update : 'NO ACTION',
    })
  }
  return keys
}
