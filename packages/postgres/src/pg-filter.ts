import type { FilterNode, FilterScalar, SqlValue } from '@engram/core'

/** Binds a value and returns its placeholder (such as `:f0`); field names and values only ever reach SQL this way. */
export type BindParameter = (value: SqlValue) => string

/** Options for `pgFilter`. */
export interface PgFilterOptions {
  /** The JSONB column (or expression) holding the metadata, such as `metadata` or `t.metadata`. */
  column: string
  /** Binds a value and returns its placeholder. */
  bind: BindParameter
}

/**
 * Translates a validated filter tree into a SQL condition on a JSONB column, with every field
 * name and value bound as a parameter. It selects exactly what core's `matchesFilter` accepts:
 * equality by JSON containment (so `true` never matches `1`), a list field "contains" the value,
 * `$ne`/`$nin` also match a missing field, ranges compare numbers numerically and strings by
 * code point (`COLLATE "C"`), and never match a value of another type.
 *
 * @example
 * const params: Record<string, SqlValue> = {}
 * const bind = (value: SqlValue) => { const name = `p${Object.keys(params).length}`; params[name] = value; return `:${name}` }
 * const where = pgFilter(validateFilter({ year: { $gte: 2020 } }), { column: 'metadata', bind })
 */
export function pgFilter(node: FilterNode, options: PgFilterOptions): string {
  const { column, bind } = options
  switch (node.kind) {
    case 'and':
      return node.children.length === 0
        ? 'TRUE'
        : `(${node.children.map((c) => pgFilter(c, options)).join(' AND ')})`
    case 'or':
      return `(${node.children.map((c) => pgFilter(c, options)).join(' OR ')})`
    case 'exists': {
      // `??` is core's spelling of the JSONB key-exists operator `?`.
      const has = `${column} ?? ${bind(node.field)}`
      return node.exists ? `(${has})` : `(${column} IS NULL OR NOT (${has}))`
    }
    case 'in': {
      if (node.values.length === 0) return node.op === '$in' ? 'FALSE' : 'TRUE'
      const any = node.values.map((value) => equals(node.field, value, options)).join(' OR ')
      return node.op === '$in' ? `(${any})` : `(${column} IS NULL OR NOT (${any}))`
    }
    case 'compare': {
      if (node.op === '$eq') return `(${equals(node.field, node.value, options)})`
      if (node.op === '$ne') return `(${column} IS NULL OR NOT (${equals(node.field, node.value, options)}))`
      const op = RANGE_SQL[node.op]
      const field = `${bind(node.field)}::text`
      if (typeof node.value === 'number') {
        // jsonb numbers compare as numeric, exactly; the type check keeps strings and booleans out.
        return `(jsonb_typeof(${column} -> ${field}) = 'number' AND ${column} -> ${field} ${op} ${bind(JSON.stringify(node.value))}::jsonb)`
      }
      return `(jsonb_typeof(${column} -> ${field}) = 'string' AND (${column} ->> ${field}) COLLATE "C" ${op} ${bind(node.value)}::text)`
    }
  }
}

const RANGE_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const

/** `field = value`, or `field` is a list holding `value`, as JSON containment (the GIN index answers it). */
function equals(field: string, value: FilterScalar, { column, bind }: PgFilterOptions): string {
  const scalar = `${column} @> ${bind(JSON.stringify({ [field]: value }))}::jsonb`
  // Metadata lists hold only strings, so only a string can be "contained" in one.
  if (typeof value !== 'string') return scalar
  return `${scalar} OR ${column} @> ${bind(JSON.stringify({ [field]: [value] }))}::jsonb`
}
