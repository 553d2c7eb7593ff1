import type { SqlDialect } from '@engram/core'
import { type ColumnKind, columnKind, translateType } from './column-type.js'
import type { TableSchema } from './export-format.js'
import { quoteName, targetName } from './sql-names.js'

/** How to create a source table in a target that does not have it. */
export interface TableDdl {
  /** The statements that create the table (with its key). Empty when `problems` is not. */
  readonly statements: readonly string[]
  /**
   * What follows once its rows are in: the secondary indexes, and on Postgres the foreign keys.
   * Building an index once over the loaded rows is far cheaper than keeping it up to date row by
   * row, and Postgres checks a foreign key added afterwards in one pass instead of once per row.
   */
  readonly afterLoad: readonly string[]
  /** What cannot be translated; each is a sentence naming the table and what to do. */
  readonly problems: readonly string[]
  /** What is not carried over but loses no data (CHECK constraints between dialects, for example). */
  readonly notes: readonly string[]
}

/** Per-column target types that replace the translation, keyed `'table.column'`. */
export type ColumnTypes = Readonly<Record<string, string>>

/**
 * Builds the DDL that creates `table` in a `to` database. Between two SQLite databases it is
 * the table's own statement; otherwise columns, keys, foreign keys and plain indexes are
 * translated, and what cannot be (SQLite's untyped or NUMERIC columns, arrays, expression and
 * partial indexes between dialects, defaults other than constants, generated columns) is a
 * problem that tells the user to create the table in the target first.
 */
export function tableDdl(
  table: TableSchema,
  from: SqlDialect,
  to: SqlDialect,
  columnTypes: ColumnTypes = {},
): TableDdl {
  const problems: string[] = []
  const notes: string[] = []
  const yourself = `create ${table.name} in the target yourself (migration then copies into it as it is)`
  if (from === 'sqlite' && to === 'sqlite' && table.sql) {
    const indexes = table.indexes.filter((index) => !index.constraint).map((index) => index.definition)
    return { statements: [table.sql], afterLoad: indexes, problems, notes }
  }
  if (table.generated.length > 0) {
    problems.push(`${table.name} has generated columns (${table.generated.join(', ')}): ${yourself}`)
  }
  const name = (n: string) => quoteName(targetName(from, to, n))
  const singleKey = table.primaryKey.length === 1 ? table.primaryKey[0] : undefined
  const lines: string[] = []
  let inlineKey = false
  for (const column of table.columns) {
    const override = columnTypes[`${table.name}.${column.name}`]
    const type = override ?? translateType(from, to, column.type)
    if (type === undefined) {
      problems.push(
        `${table.name}.${column.name} is ${column.type || 'untyped'}, which has no ${to} translation: ${yourself}, or pass columnTypes { '${table.name}.${column.name}': '<type>' }`,
      )
      continue
    }
    let line = `${name(column.name)} ${type}`
    if (column.identity && override === undefined) {
      if (to === 'postgres') {
        line = `${name(column.name)} ${from === 'postgres' ? type : 'BIGINT'} GENERATED ${column.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`
      } else if (column.name === singleKey) {
        // SQLite numbers new rows only through its rowid, which an INTEGER PRIMARY KEY column is.
        line = `${name(column.name)} INTEGER PRIMARY KEY${table.autoincrement ? ' AUTOINCREMENT' : ''}`
        inlineKey = true
      } else {
        notes.push(
          `${table.name}.${column.name} numbers its rows in ${from}; SQLite can only do that for a single INTEGER PRIMARY KEY, so new rows there need a value`,
        )
      }
    }
    if (column.notNull && !line.endsWith('PRIMARY KEY') && !line.endsWith('AUTOINCREMENT'))
      line += ' NOT NULL'
    if (column.default !== null) {
      const value =
        from === to
          ? column.default
          : translateDefault(column.default, from, to, columnKind(from, column.type))
      if (value === undefined) {
        problems.push(
          `${table.name}.${column.name} has the default ${column.default}, which has no ${to} translation: ${yourself}`,
        )
      } else {
        line += ` DEFAULT ${value}`
      }
    }
    lines.push(line)
  }
  if (table.primaryKey.length > 0 && !inlineKey) {
    lines.push(`PRIMARY KEY (${table.primaryKey.map(name).join(', ')})`)
  }
  if (from === to) {
    for (const check of table.checks) lines.push(`CONSTRAINT ${quoteName(check.name)} ${check.definition}`)
  } else if (table.checks.length > 0 || (table.sql !== undefined && /\bCHECK\s*\(/i.test(table.sql))) {
    notes.push(
      `${table.name}'s CHECK constraints are not translated between dialects; add them in the target if you need them`,
    )
  }
  const afterLoad: string[] = []
  for (const fk of table.foreignKeys) {
    const key =
      `FOREIGN KEY (${fk.columns.map(name).join(', ')}) REFERENCES ${name(fk.table)} (${fk.references.map(name).join(', ')})` +
      `${fk.onDelete === 'NO ACTION' ? '' : ` ON DELETE ${fk.onDelete}`}${fk.onUpdate === 'NO ACTION' ? '' : ` ON UPDATE ${fk.onUpdate}`}`
    // SQLite cannot add a foreign key to an existing table, so there it is part of the table.
    if (to === 'sqlite') lines.push(key)
    else {
      // Postgres's own name for an unnamed foreign key, so the table looks as if it were made there.
      const constraint =
        fk.name ?? `${[table.name, ...fk.columns].map((n) => targetName(from, to, n)).join('_')}_fkey`
      afterLoad.push(
        `ALTER TABLE ${name(table.name)} ADD CONSTRAINT ${quoteName(constraint.slice(0, 63))} ${key}`,
      )
    }
  }
  const statements = [`CREATE TABLE ${name(table.name)} (\n  ${lines.join(',\n  ')}\n)`]
  const indexes: string[] = []
  for (const index of table.indexes) {
    if (from === to) {
      indexes.push(index.definition)
    } else if (index.columns === null || index.partial) {
      problems.push(
        `${table.name}'s index ${index.name} has ${index.partial ? 'a WHERE clause' : 'an expression'}, which is not translated between dialects: ${yourself}`,
      )
    } else {
      const keys = index.columns.map((c) => `${name(c.name)}${c.descending ? ' DESC' : ''}`).join(', ')
      indexes.push(
        `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${name(index.name)} ON ${name(table.name)} (${keys})`,
      )
    }
  }
  const ok = problems.length === 0
  return {
    statements: ok ? statements : [],
    afterLoad: ok ? [...indexes, ...afterLoad] : [],
    problems,
    notes,
  }
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/
const STRING = /^'(?:[^']|'')*'$/
/** SQLite's CURRENT_* defaults, written so Postgres produces the same text. */
const SQLITE_CLOCK: Readonly<Record<string, string>> = {
  CURRENT_TIMESTAMP: `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')`,
  CURRENT_DATE: `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  CURRENT_TIME: `to_char(now() AT TIME ZONE 'UTC', 'HH24:MI:SS')`,
}

/** A default between dialects: constants (numbers, strings, NULL, booleans) and SQLite's clock defaults. */
function translateDefault(
  text: string,
  from: SqlDialect,
  to: SqlDialect,
  kind: ColumnKind,
): string | undefined {
  let value = text.trim()
  while (value.startsWith('(') && value.endsWith(')')) value = value.slice(1, -1).trim()
  // Postgres prints constants with a cast: 'abc'::text, '{}'::jsonb, (-1)::bigint.
  const cast = /^(.*?)::[a-z_ ]+(\(\d+(,\s*\d+)?\))?$/i.exec(value)
  if (from === 'postgres' && cast?.[1] !== undefined) {
    value = cast[1].trim()
    while (value.startsWith('(') && value.endsWith(')')) value = value.slice(1, -1).trim()
  }
  const upper = value.toUpperCase()
  if (upper === 'NULL') return 'NULL'
  if (upper === 'TRUE' || upper === 'FALSE') return to === 'sqlite' ? (upper === 'TRUE' ? '1' : '0') : upper
  if (NUMBER.test(value)) {
    if (to === 'postgres' && kind === 'boolean' && (value === '0' || value === '1')) {
      return value === '1' ? 'TRUE' : 'FALSE'
    }
    return value
  }
  if (STRING.test(value)) return value
  if (from === 'sqlite' && to === 'postgres') return SQLITE_CLOCK[upper]
  return undefined
}
