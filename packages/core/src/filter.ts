import { StorageError } from './storage-error.js'
import { checkWellFormed } from './well-formed.js'

/** A value a filter compares against. */
export type FilterScalar = string | number | boolean

/** The operators that can be applied to one metadata field. */
export interface FieldCondition {
  /** Equal to; on a list field, "contains". */
  $eq?: FilterScalar
  /** Not equal to (also true when the field is missing); on a list field, "does not contain". */
  $ne?: FilterScalar
  /** Greater than (numbers with numbers, strings with strings). */
  $gt?: number | string
  /** Greater than or equal to. */
  $gte?: number | string
  /** Less than. */
  $lt?: number | string
  /** Less than or equal to. */
  $lte?: number | string
  /** Equal to any of; on a list field, "contains any of". */
  $in?: readonly FilterScalar[]
  /** Equal to none of (also true when the field is missing). */
  $nin?: readonly FilterScalar[]
  /** The field is present (`true`) or absent (`false`). */
  $exists?: boolean
}

/**
 * The portable metadata filter. `{ field: value }` means `$eq`; several keys are combined
 * with AND. `$and` and `$or` take non-empty lists of filters.
 *
 * @example
 * { category: 'news', year: { $gte: 2020 }, $or: [{ tags: 'ai' }, { tags: 'ml' }] }
 */
export interface Filter {
  [key: string]: FilterScalar | FieldCondition | readonly Filter[] | undefined
}

/** A comparison operator. */
export type CompareOperator = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte'

/** A validated filter, as translators and evaluators walk it. */
export type FilterNode =
  | { readonly kind: 'and' | 'or'; readonly children: readonly FilterNode[] }
  | {
      readonly kind: 'compare'
      readonly field: string
      readonly op: CompareOperator
      readonly value: FilterScalar
    }
  | {
      readonly kind: 'in'
      readonly field: string
      readonly op: '$in' | '$nin'
      readonly values: readonly FilterScalar[]
    }
  | { readonly kind: 'exists'; readonly field: string; readonly exists: boolean }

/** Every operator of the filter language. */
export const FILTER_OPERATORS = [
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
  '$exists',
  '$and',
  '$or',
] as const

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
const RANGE = new Set(['$gt', '$gte', '$lt', '$lte'])

/** The deepest nesting of `$and`/`$or` a filter may have. */
export const MAX_FILTER_DEPTH = 32
/** The most conditions (field comparisons) one filter may hold. */
export const MAX_FILTER_CONDITIONS = 1_000
/** The most values all of a filter's `$in`/`$nin` lists may hold together. */
export const MAX_FILTER_VALUES = 100_000

/** Options for `validateFilter`. */
export interface ValidateFilterOptions {
  /** The operators the store honours; any other is an `UNSUPPORTED` error. Default is all of them. */
  operators?: readonly string[]
  /** Whether `$gt/$gte/$lt/$lte` may compare strings; `false` makes a string bound `UNSUPPORTED`. Default is `true`. */
  stringRanges?: boolean
}

/** What one validation has seen so far, to bound the filter's size. */
interface Budget {
  readonly supported: Set<string> | undefined
  readonly stringRanges: boolean
  conditions: number
  values: number
}

/**
 * Checks a filter and returns its tree. Unknown operators, malformed trees, field names that
 * are not plain identifiers, strings that are not well-formed Unicode, and filters nested more
 * than 32 levels deep or holding more than 1,000 conditions or 100,000 list values are
 * `INVALID_ARGUMENT` errors; operators the store does not honour are `UNSUPPORTED`.
 */
export function validateFilter(filter: unknown, options: ValidateFilterOptions = {}): FilterNode {
  const budget: Budget = {
    supported: options.operators ? new Set(options.operators) : undefined,
    stringRanges: options.stringRanges ?? true,
    conditions: 0,
    values: 0,
  }
  return parseFilter(filter, 'filter', budget, 0)
}

/** Tells whether a field name is safe to use in a filter (a plain identifier, at most 64 characters). */
export function isSafeFieldName(name: string): boolean {
  return FIELD_NAME.test(name)
}

function parseFilter(filter: unknown, path: string, budget: Budget, depth: number): FilterNode {
  if (!isPlainObject(filter)) fail(`${path} must be an object, got ${describe(filter)}`)
  const children: FilterNode[] = []
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined) fail(`${path}.${key} is undefined`)
    if (key === '$and' || key === '$or') {
      ensureSupported(key, budget.supported)
      if (!Array.isArray(value) || value.length === 0)
        fail(`${path}.${key} must be a non-empty array of filters`)
      if (depth >= MAX_FILTER_DEPTH) {
        fail(`The filter nests $and/$or more than ${MAX_FILTER_DEPTH} levels deep at ${path}; flatten it`)
      }
      children.push({
        kind: key === '$and' ? 'and' : 'or',
        children: value.map((child, i) => parseFilter(child, `${path}.${key}[${i}]`, budget, depth + 1)),
      })
    } else if (key.startsWith('$')) {
      fail(`Unknown filter operator ${key} at ${path}; supported: ${FILTER_OPERATORS.join(' ')}`)
    } else {
      if (!FIELD_NAME.test(key)) {
        fail(
          `Unsafe filter field name ${JSON.stringify(key)} at ${path}: use letters, digits and _ (at most 64)`,
        )
      }
      children.push(...parseField(key, value, `${path}.${key}`, budget))
    }
  }
  return children.length === 1 ? (children[0] as FilterNode) : { kind: 'and', children }
}

function parseField(field: string, condition: unknown, path: string, budget: Budget): FilterNode[] {
  const supported = budget.supported
  if (isScalar(condition)) {
    count(budget, 1, 0)
    ensureSupported('$eq', supported)
    return [{ kind: 'compare', field, op: '$eq', value: checkScalar(condition, path) }]
  }
  if (!isPlainObject(condition)) {
    fail(`${path} must be a string, number, boolean or an operator object, got ${describe(condition)}`)
  }
  const entries = Object.entries(condition)
  if (entries.length === 0) fail(`${path} is an empty operator object`)
  return entries.map(([op, value]): FilterNode => {
    const where = `${path}.${op}`
    if (!(FILTER_OPERATORS as readonly string[]).includes(op) || op === '$and' || op === '$or') {
      fail(
        `Unknown filter operator ${op} at ${path}; field operators: $eq $ne $gt $gte $lt $lte $in $nin $exists`,
      )
    }
    ensureSupported(op, supported)
    if (op === '$in' || op === '$nin') {
      if (!Array.isArray(value)) fail(`${where} must be an array, got ${describe(value)}`)
      count(budget, 1, value.length)
      return { kind: 'in', field, op, values: value.map((v, i) => checkScalar(v, `${where}[${i}]`)) }
    }
    count(budget, 1, 0)
    if (op === '$exists') {
      if (typeof value !== 'boolean') fail(`${where} must be true or false, got ${describe(value)}`)
      return { kind: 'exists', field, exists: value }
    }
    const scalar = checkScalar(value, where)
    if (RANGE.has(op) && typeof scalar === 'boolean')
      fail(`${where} compares order, so it needs a number or a string`)
    if (RANGE.has(op) && typeof scalar === 'string' && !budget.stringRanges) {
      throw new StorageError(
        'UNSUPPORTED',
        `This vector store orders only numbers, so ${where} cannot compare strings; filter on exact values with $eq or $in instead`,
      )
    }
    return { kind: 'compare', field, op: op as CompareOperator, value: scalar }
  })
}

function ensureSupported(op: string, supported: Set<string> | undefined): void {
  if (supported && !supported.has(op)) {
    throw new StorageError('UNSUPPORTED', `This vector store cannot apply the filter operator ${op}`)
  }
}

function checkScalar(value: unknown, path: string): FilterScalar {
  if (!isScalar(value)) fail(`${path} must be a string, number or boolean, got ${describe(value)}`)
  if (typeof value === 'number' && !Number.isFinite(value)) fail(`${path} must be a finite number`)
  if (typeof value === 'string') checkWellFormed(value, path)
  return value
}

/** Counts conditions and list values against the filter's size bounds. */
function count(budget: Budget, conditions: number, values: number): void {
  budget.conditions += conditions
  budget.values += values
  if (budget.conditions > MAX_FILTER_CONDITIONS) {
    fail(`The filter holds more than ${MAX_FILTER_CONDITIONS} conditions; split the query or use $in`)
  }
  if (budget.values > MAX_FILTER_VALUES) {
    fail(`The filter's $in/$nin lists hold more than ${MAX_FILTER_VALUES} values together`)
  }
}

function isScalar(value: unknown): value is FilterScalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

function fail(message: string): never {
  throw new StorageError('INVALID_ARGUMENT', message)
}
