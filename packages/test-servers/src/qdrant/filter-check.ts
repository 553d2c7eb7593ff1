import type { Schemas } from '@qdrant/js-client-rest'
import { type PointId, parsePointId } from './point-id.js'
import { notImplemented, QdrantHttpError } from './qdrant-http-error.js'

type Filter = Schemas['Filter']
type Condition = Schemas['Condition']
type FieldCondition = Schemas['FieldCondition']
type Payload = Record<string, unknown>

/** What a condition may look at: the point's id, its payload and the names of the vectors it has. */
export interface FilterTarget {
  /** The point id. */
  readonly id: PointId
  /** The payload. */
  readonly payload: Payload
  /** Names of the vectors the point holds. */
  readonly vectors: ReadonlySet<string>
}

const FILTER_KEYS = new Set(['must', 'should', 'must_not', 'min_should'])
const FIELD_KEYS = new Set([
  'key',
  'match',
  'range',
  'geo_bounding_box',
  'geo_radius',
  'geo_polygon',
  'values_count',
  'is_empty',
  'is_null',
])

/**
 * Whether a point passes a Qdrant filter, following the engine's own checker
 * (lib/segment/src/payload_storage/query_checker.rs and condition_checker.rs): `must` all,
 * `should` at least one (an empty list matches nothing), `must_not` none, and a field
 * condition on a missing key is false unless it is `is_empty`.
 */
export function checkFilter(filter: Filter | null | undefined, target: FilterTarget): boolean {
  if (filter === null || filter === undefined) return true
  const should = list(filter.should)
  if (should !== undefined && !should.some((c) => checkCondition(c, target))) return false
  const minShould = filter.min_should as Schemas['MinShould'] | null | undefined
  if (minShould) {
    const hits = minShould.conditions.filter((c) => checkCondition(c, target)).length
    if (hits < minShould.min_count) return false
  }
  const must = list(filter.must)
  if (must !== undefined && !must.every((c) => checkCondition(c, target))) return false
  const mustNot = list(filter.must_not)
  if (mustNot?.some((c) => checkCondition(c, target))) return false
  return true
}

/**
 * Checks a whole filter before any point is looked at, as Qdrant's deserializer does: unknown
 * fields (`deny_unknown_fields`), malformed match values and features this server does not
 * implement are a 400 even on an empty collection.
 */
export function assertValidFilter(filter: unknown): asserts filter is Filter {
  assertFilter(filter)
  for (const clause of [filter.should, filter.must, filter.must_not]) {
    for (const condition of list(clause) ?? []) assertValidCondition(condition)
  }
  const minShould = filter.min_should as Schemas['MinShould'] | null | undefined
  for (const condition of minShould?.conditions ?? []) assertValidCondition(condition)
}

function assertValidCondition(condition: Condition): void {
  if (typeof condition !== 'object' || condition === null) {
    throw new QdrantHttpError(
      400,
      'Format error in JSON body: data did not match any variant of untagged enum Condition',
    )
  }
  if ('key' in condition) {
    const field = condition as FieldCondition
    for (const key of Object.keys(field)) {
      if (!FIELD_KEYS.has(key)) {
        throw new QdrantHttpError(
          400,
          `Format error in JSON body: unknown field \`${key}\` in FieldCondition`,
        )
      }
    }
    if (field.geo_bounding_box || field.geo_radius || field.geo_polygon)
      throw notImplemented('geo conditions')
    const range = field.range as Schemas['Range'] | null | undefined
    if (range && [range.gt, range.gte, range.lt, range.lte].some((b) => typeof b === 'string')) {
      throw notImplemented('datetime ranges')
    }
    const match = field.match as Schemas['Match'] | null | undefined
    if (match) checkMatch(match, undefined)
    return
  }
  if ('nested' in condition) throw notImplemented('nested conditions')
  if ('has_id' in condition) {
    for (const id of condition.has_id) parsePointId(id, 'point id in has_id')
    return
  }
  if ('is_empty' in condition || 'is_null' in condition || 'has_vector' in condition) return
  assertValidFilter(condition)
}

function assertFilter(filter: unknown): asserts filter is Filter {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw new QdrantHttpError(
      400,
      'Format error in JSON body: invalid type for Filter, expected struct Filter',
    )
  }
  for (const key of Object.keys(filter)) {
    if (!FILTER_KEYS.has(key)) {
      throw new QdrantHttpError(
        400,
        `Format error in JSON body: unknown field \`${key}\`, expected one of \`should\`, \`min_should\`, \`must\`, \`must_not\``,
      )
    }
  }
}

/** Qdrant accepts one condition or a list wherever a list is expected. */
function list(
  value: Condition | Condition[] | Record<string, unknown> | null | undefined,
): Condition[] | undefined {
  if (value === null || value === undefined) return undefined
  return Array.isArray(value) ? value : [value as Condition]
}

function checkCondition(condition: Condition, target: FilterTarget): boolean {
  if (typeof condition !== 'object' || condition === null) {
    throw new QdrantHttpError(
      400,
      'Format error in JSON body: data did not match any variant of untagged enum Condition',
    )
  }
  if ('key' in condition) return checkField(condition as FieldCondition, target.payload)
  if ('is_empty' in condition) return isEmpty(values(target.payload, condition.is_empty.key))
  if ('is_null' in condition) return values(target.payload, condition.is_null.key).some((v) => v === null)
  if ('has_id' in condition) {
    const wanted = new Set(condition.has_id.map((id) => parsePointId(id, 'point id in has_id')))
    return wanted.has(target.id)
  }
  if ('has_vector' in condition) return target.vectors.has(condition.has_vector)
  if ('nested' in condition) throw notImplemented('nested conditions')
  return checkFilter(condition as Filter, target)
}

function checkField(condition: FieldCondition, payload: Payload): boolean {
  const found = values(payload, condition.key)
  if (found.length === 0) {
    // A missing key: only `is_empty: true` and `is_null: false` hold (check_empty in Qdrant).
    if (condition.is_empty !== null && condition.is_empty !== undefined) return condition.is_empty
    if (condition.is_null !== null && condition.is_null !== undefined) return !condition.is_null
    return false
  }
  return found.some((value) => {
    if (condition.values_count)
      return checkCount(condition.values_count, Array.isArray(value) ? value.length : 1)
    if (condition.is_empty !== null && condition.is_empty !== undefined) {
      return isEmpty([value]) === condition.is_empty
    }
    if (condition.is_null !== null && condition.is_null !== undefined) {
      const isNull = Array.isArray(value) ? value.some((v) => v === null) : value === null
      return isNull === condition.is_null
    }
    // One level of array is flattened: a list matches when any element does.
    return Array.isArray(value) ? value.some((item) => matchOne(condition, item)) : matchOne(condition, value)
  })
}

function matchOne(condition: FieldCondition, value: unknown): boolean {
  const match = condition.match as Schemas['Match'] | null | undefined
  if (match && checkMatch(match, value)) return true
  const range = condition.range as Schemas['RangeInterface'] | null | undefined
  return range ? checkRange(range, value) : false
}

function checkMatch(match: Schemas['Match'], value: unknown): boolean {
  if ('value' in match) {
    const wanted = match.value
    if (typeof wanted === 'number' && !Number.isInteger(wanted)) {
      throw new QdrantHttpError(
        400,
        `Format error in JSON body: data did not match any variant of untagged enum ValueVariants (${wanted} is not a string, an integer or a boolean)`,
      )
    }
    // Strings match strings, integers match integers and booleans match booleans; never across types.
    return (
      typeof value === typeof wanted &&
      (typeof value !== 'number' || Number.isInteger(value)) &&
      value === wanted
    )
  }
  if ('any' in match) return anyOf(match.any, value) === true
  if ('except' in match) {
    if (value === null) return false
    const hit = anyOf(match.except, value)
    return hit === undefined ? true : !hit
  }
  const text = 'text' in match ? match.text : 'phrase' in match ? match.phrase : undefined
  if (text !== undefined) return typeof value === 'string' && value.includes(text)
  if ('text_any' in match) {
    return (
      typeof value === 'string' &&
      match.text_any.split(/\s+/).some((token) => token !== '' && value.includes(token))
    )
  }
  throw notImplemented(`the match condition ${JSON.stringify(match)}`)
}

/** `true`/`false` when the value's type fits the list (strings or integers), `undefined` when it does not. */
function anyOf(list: Schemas['AnyVariants'], value: unknown): boolean | undefined {
  const items = list as readonly unknown[]
  const integers =
    items.length > 0 && items.every((item) => typeof item === 'number' && Number.isInteger(item))
  if (!integers && !items.every((item) => typeof item === 'string')) {
    throw new QdrantHttpError(
      400,
      'Format error in JSON body: data did not match any variant of untagged enum AnyVariants',
    )
  }
  if (typeof value === 'string') return integers ? undefined : items.includes(value)
  if (typeof value === 'number' && Number.isInteger(value))
    return integers ? items.includes(value) : undefined
  return undefined
}

function checkRange(range: Schemas['RangeInterface'], value: unknown): boolean {
  // A range orders numbers only: strings, booleans and null never fall inside one.
  if (typeof value !== 'number') return false
  const { gt, gte, lt, lte } = range as Schemas['Range']
  return (
    (gt === null || gt === undefined || value > gt) &&
    (gte === null || gte === undefined || value >= gte) &&
    (lt === null || lt === undefined || value < lt) &&
    (lte === null || lte === undefined || value <= lte)
  )
}

function checkCount(count: Schemas['ValuesCount'], n: number): boolean {
  return (
    (count.gt === null || count.gt === undefined || n > count.gt) &&
    (count.gte === null || count.gte === undefined || n >= count.gte) &&
    (count.lt === null || count.lt === undefined || n < count.lt) &&
    (count.lte === null || count.lte === undefined || n <= count.lte)
  )
}

/** Qdrant's is_empty: every value found is null or an empty list (and a missing key is empty). */
function isEmpty(found: readonly unknown[]): boolean {
  return found.every((value) => value === null || (Array.isArray(value) && value.length === 0))
}

/**
 * The values at a JSON path such as `a.b`, `a[].b` or `a[0].b`, like Qdrant's `value_get`: a
 * list at the end of the path is one value (the field condition flattens it), `[]` walks every
 * element on the way.
 */
export function values(payload: Payload, path: string): unknown[] {
  let current: unknown[] = [payload]
  for (const step of parsePath(path)) {
    const next: unknown[] = []
    for (const value of current) {
      if (step.kind === 'key') {
        if (
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.hasOwn(value, step.key)
        ) {
          next.push((value as Payload)[step.key])
        }
      } else if (Array.isArray(value)) {
        if (step.kind === 'all') next.push(...value)
        else if (step.index < value.length) next.push(value[step.index])
      }
    }
    current = next
  }
  return current
}

type PathStep = { kind: 'key'; key: string } | { kind: 'all' } | { kind: 'index'; index: number }

function parsePath(path: string): PathStep[] {
  const steps: PathStep[] = []
  const pattern = /(?:^|\.)(?:"((?:[^"\\]|\\.)*)"|([^.[\]"]+))|\[(\d*)\]/gy
  let match: RegExpExecArray | null = pattern.exec(path)
  let consumed = 0
  while (match !== null) {
    consumed = pattern.lastIndex
    if (match[1] !== undefined) steps.push({ kind: 'key', key: match[1] })
    else if (match[2] !== undefined) steps.push({ kind: 'key', key: match[2] })
    else steps.push(match[3] === '' ? { kind: 'all' } : { kind: 'index', index: Number(match[3]) })
    match = pattern.exec(path)
  }
  if (path === '' || consumed !== path.length || steps[0]?.kind !== 'key') {
    throw new QdrantHttpError(400, `Format error in JSON body: invalid payload key ${JSON.stringify(path)}`)
  }
  return steps
}
