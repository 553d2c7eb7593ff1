import type { FilterNode, FilterScalar, SqlValue } from '@engram/core'

/** A SQL boolean expression with its bound parameters. */
export interface SqlFragment {
  /** The expression; it is always 0 or 1, never NULL, so `NOT` and `OR` behave like the reference. */
  sql: string
  /** Values for its `?` placeholders, in order. */
  params: SqlValue[]
}

/**
 * Translates a validated filter (from core's `validateFilter`) into a SQLite expression over
 * a JSON metadata column, selecting exactly the records core's `matchesFilter` accepts.
 * Field names are bound as JSON paths, never spliced into the SQL.
 *
 * @example
 * const { sql, params } = translateSqliteFilter(validateFilter({ year: { $gte: 2020 } }))
 * await db.all(`SELECT id FROM docs WHERE ${sql}`, params)
 */
export function translateSqliteFilter(node: FilterNode, column = 'metadata'): SqlFragment {
  const params: SqlValue[] = []
  const sql = translate(node, column, params)
  return { sql, params }
}

function translate(node: FilterNode, column: string, params: SqlValue[]): string {
  switch (node.kind) {
    case 'and':
    case 'or': {
      if (node.children.length === 0) return node.kind === 'and' ? '1' : '0'
      const joiner = node.kind === 'and' ? ' AND ' : ' OR '
      return `(${node.children.map((child) => translate(child, column, params)).join(joiner)})`
    }
    case 'exists':
      params.push(path(node.field))
      return `(json_type(${column}, ?) IS ${node.exists ? 'NOT NULL' : 'NULL'})`
    case 'in': {
      const hit =
        node.values.length === 0
          ? '0'
          : `(${node.values.map((v) => equals(column, node.field, v, params)).join(' OR ')})`
      return node.op === '$in' ? hit : `(NOT ${hit})`
    }
    case 'compare': {
      if (node.op === '$eq') return equals(column, node.field, node.value, params)
      if (node.op === '$ne') return `(NOT ${equals(column, node.field, node.value, params)})`
      const operator = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[node.op]
      // Ranges compare like types only: numbers numerically, strings by BINARY (code point) order.
      const types = typeof node.value === 'number' ? NUMBER_TYPES : "('text')"
      params.push(path(node.field), path(node.field), node.value)
      return `(COALESCE(json_type(${column}, ?), '') IN ${types} AND json_extract(${column}, ?) ${operator} ?)`
    }
  }
}

const NUMBER_TYPES = "('integer', 'real')"

/** `field == value` with the reference's typing; a string also matches a list containing it. */
function equals(column: string, field: string, value: FilterScalar, params: SqlValue[]): string {
  if (typeof value === 'boolean') {
    // JSON keeps true/false apart from 1/0, while json_extract would return 1/0 for both.
    params.push(path(field))
    return `(json_type(${column}, ?) IS '${value ? 'true' : 'false'}')`
  }
  if (typeof value === 'number') {
    params.push(path(field), path(field), value)
    return `(COALESCE(json_type(${column}, ?), '') IN ${NUMBER_TYPES} AND json_extract(${column}, ?) = ?)`
  }
  // json_each over a scalar yields the scalar itself, so one EXISTS covers "equals" and "contains".
  params.push(path(field), value)
  return `(EXISTS (SELECT 1 FROM json_each(${column}, ?) AS e WHERE e.type = 'text' AND e.value = ?))`
}

function path(field: string): string {
  return `$.${field}`
}
