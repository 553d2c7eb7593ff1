import type { FilterNode, FilterScalar, SqlValue } from '@engram/core'

/**
 * Binds a value and returns its placeholder (such as `:f0`, or `?`); field names and values only
 * ever reach SQL this way. It is called once per placeholder, in the order the SQL reads them.
 */
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
 * code point (`COLLATE "C"`), and never match a value of another type. An `$in`/`$nin` list is
 * one array parameter however long it is.
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
      const any = anyOf(node.field, node.values, options)
      return node.op === '$in' ? `(${any})` : `(${column} IS NULL OR NOT (${any}))`
    }
    case 'compare': {
      if (node.op === '$eq') return `(${equals(node.field, node.value, options)})`
      if (node.op === '$ne') return `(${column} IS NULL OR NOT (${equals(node.field, node.value, options)}))`
      const op = RANGE_SQL[node.op]
      const field = (): string => `${bind(node.field)}::text`
      if (typeof node.value === 'number') {
        // jsonb numbers compare as numeric, exactly; the type check keeps strings and booleans out.
        return `(jsonb_typeof(${column} -> ${field()}) = 'number' AND ${column} -> ${field()} ${op} ${bind(JSON.stringify(node.value))}::jsonb)`
      }
      return `(jsonb_typeof(${column} -> ${field()}) = 'string' AND (${column} ->> ${field()}) COLLATE "C" ${op} ${bind(node.value)}::text)`
    }
  }
}

const RANGE_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const

/**
 * Lists up to this long are matched by JSON containment, which the GIN index answers; longer
 * ones by hashed equality, which reads each row once however long the list is (containment
 * tests every list entry on every candidate row). Measured on 100,000 rows: containment wins
 * below a few hundred values, hashing far above.
 */
const CONTAINMENT_MAX = 256

/**
 * `field` equals (or, for a list, contains) any of `values`, bound as one array parameter
 * whatever the list's length, so a long `$in` never meets PostgreSQL's 65,535-parameter limit.
 * Never NULL, so `NOT` in `$nin` behaves like the reference.
 */
function anyOf(field: string, values: readonly FilterScalar[], { column, bind }: PgFilterOptions): string {
  if (values.length <= CONTAINMENT_MAX) {
    const documents = values.flatMap((value) =>
      typeof value === 'string'
        ? [JSON.stringify({ [field]: value }), JSON.stringify({ [field]: [value] })]
        : [JSON.stringify({ [field]: value })],
    )
    return `${column} @> ANY(${bind(documents)}::jsonb[])`
  }
  // jsonb equality is typed like the reference (true is not 1, '1' is not 1, 1 equals 1.0), and
  // a list matches when one of its elements does. CASE, because PostgreSQL may evaluate the
  // operands of AND in any order and jsonb_array_elements fails on a scalar.
  const scalars = values.map((value) => JSON.stringify(value))
  const value = (): string => `(${column} -> ${bind(field)}::text)`
  return `COALESCE(CASE WHEN jsonb_typeof(${value()}) = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(${value()}) AS e(v) WHERE e.v = ANY(${bind(scalars)}::jsonb[])) ELSE ${value()} = ANY(${bind(scalars)}::jsonb[]) END, FALSE)`
}

/** `field = value`, or `field` is a list holding `value`, as JSON containment (the GIN index answers it). */
function equals(field: string, value: FilterScalar, { column, bind }: PgFilterOptions): string {
  const scalar = `${column} @> ${bind(JSON.stringify({ [field]: value }))}::jsonb`
  // Metadata lists hold only strings, so only a string can be "contained" in one.
  if (typeof value !== 'string') return scalar
  return `${scalar} OR ${column} @> ${bind(JSON.stringify({ [field]: [value] }))}::jsonb`
}
