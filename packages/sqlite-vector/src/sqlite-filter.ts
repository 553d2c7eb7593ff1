import { type FilterNode, type FilterScalar, type SqlValue, StorageError } from '@engram/core'

/** What `sqliteFilter` needs besides the filter: the JSON column and how values are bound. */
export interface SqliteFilterOptions {
  /** The JSON metadata column, optionally qualified (`metadata`, `v.metadata`); never user input. */
  column: string
  /** Binds a value and returns its placeholder (such as `?`), in the order the SQL reads them. */
  bind(value: SqlValue): string
}

/** A SQL boolean expression with its bound parameters. */
export interface SqlFragment {
  /** The expression; it is always 0 or 1, never NULL, so `NOT` and `OR` behave like the reference. */
  sql: string
  /** Values for its `?` placeholders, in order. */
  params: SqlValue[]
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/
const NUMBER_TYPES = "('integer', 'real')"
const RANGE_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const
/** Conditions joined flat before they are nested one level deeper. */
const GROUP = 16

/**
 * Translates a validated filter (from core's `validateFilter`) into a SQLite expression over a
 * JSON metadata column, selecting exactly the records core's `matchesFilter` accepts. Field
 * names (as JSON paths) and values reach the SQL only through `bind`. An empty `and` (the
 * filter `{}`) is TRUE.
 *
 * @example
 * const params: SqlValue[] = []
 * const where = sqliteFilter(validateFilter({ year: { $gte: 2020 } }), {
 *   column: 'metadata',
 *   bind: (value) => (params.push(value), '?'),
 * })
 * await db.all(`SELECT id FROM docs WHERE ${where}`, params)
 */
export function sqliteFilter(node: FilterNode, options: SqliteFilterOptions): string {
  if (typeof options?.column !== 'string' || !COLUMN.test(options.column)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `sqliteFilter needs a plain column name such as 'metadata' or 'v.metadata', got ${JSON.stringify(options?.column)}`,
    )
  }
  return translate(node, options.column, options.bind)
}

/** `sqliteFilter` with `?` placeholders, returning the SQL and its parameters together. */
export function sqliteWhere(node: FilterNode, column = 'metadata'): SqlFragment {
  const params: SqlValue[] = []
  const sql = sqliteFilter(node, {
    column,
    bind(value) {
      params.push(value)
      return '?'
    },
  })
  return { sql, params }
}

type Bind = SqliteFilterOptions['bind']

function translate(node: FilterNode, column: string, bind: Bind): string {
  switch (node.kind) {
    case 'and':
    case 'or': {
      if (node.children.length === 0) return node.kind === 'and' ? '1' : '0'
      const parts = node.children.map((child) => translate(child, column, bind))
      return balanced(parts, node.kind === 'and' ? ' AND ' : ' OR ')
    }
    case 'exists':
      return `(json_type(${column}, ${bind(path(node.field))}) IS ${node.exists ? 'NOT NULL' : 'NULL'})`
    case 'in': {
      const hit = anyOf(column, node.field, node.values, bind)
      return node.op === '$in' ? hit : `(NOT ${hit})`
    }
    case 'compare': {
      if (node.op === '$eq') return equals(column, node.field, node.value, bind)
      if (node.op === '$ne') return `(NOT ${equals(column, node.field, node.value, bind)})`
      // Ranges compare like types only: numbers numerically, strings by BINARY (code point) order.
      const types = typeof node.value === 'number' ? NUMBER_TYPES : "('text')"
      const field = path(node.field)
      return `(COALESCE(json_type(${column}, ${bind(field)}), '') IN ${types} AND json_extract(${column}, ${bind(field)}) ${RANGE_SQL[node.op]} ${bind(node.value)})`
    }
  }
}

/**
 * Joins conditions in groups of `GROUP`, nested, so a filter of a thousand conditions parses as a
 * shallow tree: SQLite refuses expressions nested more than 1,000 levels deep, which a flat chain
 * of `a OR b OR …` would be.
 */
function balanced(parts: readonly string[], joiner: string): string {
  if (parts.length <= GROUP) return `(${parts.join(joiner)})`
  const groups: string[] = []
  const size = Math.ceil(parts.length / GROUP)
  for (let i = 0; i < parts.length; i += size) groups.push(balanced(parts.slice(i, i + size), joiner))
  return balanced(groups, joiner)
}

/**
 * `field` equals (or, for a list, contains) any of `values`. Strings and numbers each travel as
 * one JSON list read with `json_each(?)`, so an `$in` of any length binds at most five parameters
 * and never meets SQLite's limits on parameters or expression size; SQLite builds each list into
 * a temporary index once per statement, so every row costs a lookup, not a pass over the list.
 * Both sides of a number comparison are JSON text parsed by SQLite, so they agree exactly.
 */
function anyOf(column: string, field: string, values: readonly FilterScalar[], bind: Bind): string {
  const strings = [...new Set(values.filter((v): v is string => typeof v === 'string'))]
  const numbers = [...new Set(values.filter((v): v is number => typeof v === 'number'))]
  const booleans = [...new Set(values.filter((v): v is boolean => typeof v === 'boolean'))]
  const parts: string[] = []
  if (booleans.length > 0) {
    // JSON keeps true/false apart from 1/0, while json_extract would return 1/0 for both.
    const types = booleans.map((v) => (v ? "'true'" : "'false'")).join(', ')
    parts.push(`(COALESCE(json_type(${column}, ${bind(path(field))}), '') IN (${types}))`)
  }
  if (strings.length > 0) {
    parts.push(
      `(EXISTS (SELECT 1 FROM json_each(${column}, ${bind(path(field))}) AS e WHERE e.type = 'text' AND e.value IN (SELECT value FROM json_each(${bind(JSON.stringify(strings))}))))`,
    )
  }
  if (numbers.length > 0) {
    // Placeholders are bound in the order the SQL reads them.
    const typed = `COALESCE(json_type(${column}, ${bind(path(field))}), '') IN ${NUMBER_TYPES}`
    const value = `json_extract(${column}, ${bind(path(field))})`
    parts.push(`(${typed} AND ${value} IN (SELECT value FROM json_each(${bind(JSON.stringify(numbers))})))`)
  }
  return parts.length === 0 ? '0' : `(${parts.join(' OR ')})`
}

/** `field == value` with the reference's typing; a string also matches a list containing it. */
function equals(column: string, field: string, value: FilterScalar, bind: Bind): string {
  if (typeof value === 'boolean') {
    // JSON keeps true/false apart from 1/0, while json_extract would return 1/0 for both.
    return `(json_type(${column}, ${bind(path(field))}) IS '${value ? 'true' : 'false'}')`
  }
  if (typeof value === 'number') {
    return `(COALESCE(json_type(${column}, ${bind(path(field))}), '') IN ${NUMBER_TYPES} AND json_extract(${column}, ${bind(path(field))}) = ${bind(value)})`
  }
  // json_each over a scalar yields the scalar itself, so one EXISTS covers "equals" and "contains".
  return `(EXISTS (SELECT 1 FROM json_each(${column}, ${bind(path(field))}) AS e WHERE e.type = 'text' AND e.value = ${bind(value)}))`
}

function path(field: string): string {
  return `$.${field}`
}
