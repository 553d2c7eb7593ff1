import type { StorageAdapter } from '@engram/core'
import type {
  CheckSchema,
  ColumnSchema,
  ForeignKeySchema,
  IndexSchema,
  TableSchema,
} from './export-format.js'

// Every query reads the whole current schema at once, so a database of many tables costs four round trips.
const IN_SCHEMA = `n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition`

const TABLES = `SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${IN_SCHEMA} ORDER BY c.relname`

const COLUMNS = `SELECT c.relname::text AS table_name, a.attname::text AS name,
    format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
    pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity::text AS identity, a.attgenerated::text AS generated
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE ${IN_SCHEMA} AND a.attnum > 0 AND NOT a.attisdropped
  ORDER BY c.relname, a.attnum`

const INDEXES = `SELECT c.relname::text AS table_name, ic.relname::text AS name, i.indisunique AS is_unique,
    i.indisprimary AS is_primary, i.indpred IS NOT NULL AS partial,
    (SELECT json_agg(a.attname::text ORDER BY k.ord)
       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE k.ord <= i.indnkeyatts) AS columns,
    (SELECT json_agg((o.opt & 1) = 1 ORDER BY o.ord)
       FROM unnest(i.indoption::int2[]) WITH ORDINALITY AS o(opt, ord)) AS descending,
    replace(replace(pg_get_indexdef(i.indexrelid),
      ' ON ONLY ' || quote_ident(n.nspname) || '.', ' ON ONLY '),
      ' ON ' || quote_ident(n.nspname) || '.', ' ON ') AS definition
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${IN_SCHEMA}
  ORDER BY c.relname, ic.relname`

const CONSTRAINTS = `SELECT c.relname::text AS table_name, con.conname::text AS name, con.contype::text AS type,
    (SELECT json_agg(a.attname::text ORDER BY k.ord)
       FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
    (SELECT json_agg(a.attname::text ORDER BY k.ord)
       FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS refs,
    rc.relname::text AS parent, con.confupdtype::text AS on_update, con.confdeltype::text AS on_delete,
    pg_get_constraintdef(con.oid) AS definition
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class rc ON rc.oid = con.confrelid
  WHERE ${IN_SCHEMA} AND con.contype IN ('p', 'f', 'c')
  ORDER BY c.relname, con.conname`

const ACTIONS: Readonly<Record<string, string>> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
}

interface ColumnRow {
  table_name: string
  name: string
  type: string
  not_null: boolean
  dflt: string | null
  identity: string
  generated: string
}

interface IndexRow {
  table_name: string
  name: string
  is_unique: boolean
  is_primary: boolean
  partial: boolean
  columns: Array<string | null> | null
  descending: boolean[] | null
  definition: string
}

interface ConstraintRow {
  table_name: string
  name: string
  type: string
  columns: string[] | null
  refs: string[] | null
  parent: string | null
  on_update: string
  on_delete: string
  definition: string
}

/** The names of the tables in the adapter's current schema (the first on its search path). */
export async function listPostgresTables(db: StorageAdapter): Promise<string[]> {
  return (await db.all<{ name: string }>(TABLES)).map((row) => row.name)
}

/** Reads the named tables of the current schema from Postgres's catalog. */
export async function readPostgresTables(
  db: StorageAdapter,
  names: readonly string[],
): Promise<TableSchema[]> {
  const wanted = new Set(names)
  const columns = groupBy(await db.all<ColumnRow>(COLUMNS), wanted)
  const indexes = groupBy(await db.all<IndexRow>(INDEXES), wanted)
  const constraints = groupBy(await db.all<ConstraintRow>(CONSTRAINTS), wanted)
  return names.map((name) => {
    const own = constraints.get(name) ?? []
    const primaryKey = own.find((c) => c.type === 'p')?.columns ?? []
    return {
      name,
      columns: (columns.get(name) ?? []).filter((c) => c.generated === '').map(toColumn),
      primaryKey,
      order: primaryKey.length > 0 ? 'key' : 'ctid',
      indexes: (indexes.get(name) ?? []).filter((i) => !i.is_primary).map(toIndex),
      foreignKeys: own.filter((c) => c.type === 'f').map(toForeignKey),
      checks: own
        .filter((c) => c.type === 'c')
        .map((c): CheckSchema => ({ name: c.name, definition: c.definition })),
      generated: (columns.get(name) ?? []).filter((c) => c.generated !== '').map((c) => c.name),
    }
  })
}

function toColumn(row: ColumnRow): ColumnSchema {
  // A serial column's default names a sequence of the source; it becomes an identity instead.
  const serial = row.dflt !== null && /^nextval\(/i.test(row.dflt)
  const identity = row.identity === 'a' ? 'always' : row.identity === 'd' || serial ? 'by-default' : undefined
  return {
    name: row.name,
    type: row.type,
    notNull: row.not_null,
    default: serial ? null : row.dflt,
    ...(identity ? { identity } : {}),
  }
}

function toIndex(row: IndexRow): IndexSchema {
  const names = row.columns ?? []
  const plain = names.length > 0 && names.every((n) => n !== null)
  return {
    name: row.name,
    unique: row.is_unique,
    columns: plain
      ? names.map((n, i) => ({ name: n as string, descending: row.descending?.[i] === true }))
      : null,
    partial: row.partial,
    constraint: false,
    definition: row.definition,
  }
}

function toForeignKey(row: ConstraintRow): ForeignKeySchema {
  return {
    name: row.name,
    columns: row.columns ?? [],
    table: row.parent ?? '',
    references: row.refs ?? [],
    onDelete: ACTIONS[row.on_delete] ?? 'NO ACTION',
    onUpdate: ACTIONS[row.on_update] ?? 'NO ACTION',
  }
}

function groupBy<T extends { table_name: string }>(
  rows: readonly T[],
  wanted: Set<string>,
): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const row of rows) {
    if (!wanted.has(row.table_name)) continue
    const group = groups.get(row.table_name)
    if (group) group.push(row)
    else groups.set(row.table_name, [row])
  }
  return groups
}
