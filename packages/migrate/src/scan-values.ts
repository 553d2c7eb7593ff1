import type { StorageAdapter } from '@engram/core'
import { type ColumnKind, describeValue } from './column-type.js'
import type { TableSchema } from './export-format.js'
import { quoteName } from './sql-names.js'

const MAX_SAFE = '9007199254740991'

/** SQL that is true for a SQLite value a Postgres column of this kind cannot hold exactly. */
function misfit(column: string, kind: ColumnKind): string | undefined {
  const type = `typeof(${column})`
  switch (kind) {
    case 'integer':
      return `${type} NOT IN ('integer', 'null')`
    case 'real':
      return `(${type} NOT IN ('real', 'integer', 'null') OR (${type} = 'integer' AND abs(${column}) > ${MAX_SAFE}))`
    case 'text':
    case 'timestamp':
      return `(${type} NOT IN ('text', 'null') OR instr(${column}, char(0)) > 0)`
    case 'blob':
      return `${type} NOT IN ('blob', 'null')`
    case 'boolean':
      return `(${type} NOT IN ('integer', 'null') OR ${column} NOT IN (0, 1))`
    case 'json':
      return `(${type} NOT IN ('text', 'integer', 'real', 'null') OR (${type} = 'text' AND (instr(${column}, char(0)) > 0 OR json_valid(${column}) = 0)))`
    case 'numeric':
      return `${type} = 'blob'`
    default:
      return undefined
  }
}

/**
 * Checks, with one scan of a SQLite table, that every value fits the Postgres column it is
 * going to (SQLite lets any column hold any kind of value). Returns a problem per column that
 * has misfits, naming how many and showing the first one by its key.
 */
export async function scanValues(
  db: StorageAdapter,
  table: TableSchema,
  kinds: readonly ColumnKind[],
): Promise<string[]> {
  const checks = table.columns
    .map((column, i) => ({
      column,
      condition: misfit(quoteName(column.name), kinds[i] ?? 'any'),
      kind: kinds[i],
    }))
    .filter((c): c is typeof c & { condition: string } => c.condition !== undefined)
  if (checks.length === 0) return []
  const sums = checks.map((c, i) => `SUM(CASE WHEN ${c.condition} THEN 1 ELSE 0 END) AS m${i}`)
  const counts = await db.get<Record<string, number | null>>(
    `SELECT ${sums.join(', ')} FROM ${quoteName(table.name)}`,
  )
  const problems: string[] = []
  for (let i = 0; i < checks.length; i++) {
    const bad = Number(counts?.[`m${i}`] ?? 0)
    if (bad === 0) continue
    const check = checks[i] as (typeof checks)[number]
    const key = table.primaryKey.length > 0 ? table.primaryKey.map(quoteName) : ['rowid']
    const example = await db.get<Record<string, unknown>>(
      `SELECT ${key.map((k, n) => `${k} AS k${n}`).join(', ')}, ${quoteName(check.column.name)} AS v FROM ${quoteName(table.name)} WHERE ${check.condition} LIMIT 1`,
    )
    const where = key
      .map((k, n) => `${k.replace(/"/g, '')} = ${JSON.stringify(String(example?.[`k${n}`]))}`)
      .join(', ')
    problems.push(
      `${table.name}.${check.column.name}: ${bad} row${bad === 1 ? '' : 's'} hold a value its Postgres ${check.kind} column cannot store exactly (first: ${where} holds ${describeValue(example?.v)}). Fix those rows, or choose the column's type with columnTypes { '${table.name}.${check.column.name}': '<type>' }`,
    )
  }
  return problems
}
