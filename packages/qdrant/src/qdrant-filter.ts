import { type FilterNode, type FilterScalar, StorageError } from '@engram/core'
import type { Schemas } from '@qdrant/js-client-rest'

type Filter = Schemas['Filter']
type Condition = Schemas['Condition']

/** Options for `qdrantFilter`. */
export interface QdrantFilterOptions {
  /** The payload key the record's metadata object is stored under. Default is `'metadata'`. */
  metadataKey?: string
  /** The payload key listing the metadata fields that hold an empty list. Default is `'empty_fields'`. */
  emptyFieldsKey?: string
}

/** A clause that folded to a constant: an empty `$in` matches nothing, an empty `$nin` everything. */
const ALWAYS = Symbol('always')
const NEVER = Symbol('never')
type Part = Condition | typeof ALWAYS | typeof NEVER

/**
 * Translates a validated engram filter into a Qdrant payload filter that selects exactly the
 * records core's `matchesFilter` accepts:
 * - `$eq`/`$in` on strings and booleans are `match` (`value`, `any`), which on a list field
 *   means "contains"; numbers are a closed `range` (`gte` = `lte`), because Qdrant's `match`
 *   takes only integers and its `range` compares numbers and nothing else (never a string or a
 *   boolean, so `1` never matches `true`).
 * - `$ne`/`$nin` are `must_not` of the same condition, so a missing field matches them.
 *   (`match.except` is not used: Qdrant never matches it on a missing field, and on a list it
 *   means "holds some other value".)
 * - `$gt`/`$gte`/`$lt`/`$lte` are `range` on numbers. Qdrant cannot order strings, so the store
 *   declares `stringRanges: false` and core refuses a string bound as `UNSUPPORTED` first.
 * - `$exists` is `is_empty`, corrected for empty lists (which Qdrant counts as empty but engram
 *   as present) by the payload's list of fields holding `[]`.
 * - `$and`/`$or` are `must`/`should`; constants fold away, and a filter matching nothing is
 *   `has_id: []`.
 */
export function qdrantFilter(node: FilterNode, options: QdrantFilterOptions = {}): Filter {
  const metadataKey = options.metadataKey ?? 'metadata'
  const emptyFieldsKey = options.emptyFieldsKey ?? 'empty_fields'
  const key = (field: string) => `${metadataKey}.${field}`

  function translate(part: FilterNode): Part {
    switch (part.kind) {
      case 'and':
        return all(part.children.map(translate))
      case 'or':
        return any(part.children.map(translate))
      case 'exists': {
        const empty: Condition = { is_empty: { key: key(part.field) } }
        const emptyList: Condition = { key: emptyFieldsKey, match: { value: part.field } }
        return part.exists
          ? { should: [{ must_not: [empty] }, emptyList] }
          : { must: [empty], must_not: [emptyList] }
      }
      case 'in': {
        if (part.values.length === 0) return part.op === '$in' ? NEVER : ALWAYS
        const hit = oneOf(key(part.field), part.values)
        return part.op === '$in' ? hit : { must_not: [hit] }
      }
      case 'compare': {
        const field = key(part.field)
        if (part.op === '$eq') return equals(field, part.value)
        if (part.op === '$ne') return { must_not: [equals(field, part.value)] }
        if (typeof part.value !== 'number') {
          throw new StorageError(
            'UNSUPPORTED',
            `Qdrant orders only numbers, so ${part.op} on "${part.field}" cannot compare the string ${JSON.stringify(part.value)}`,
          )
        }
        const bound = { $gt: 'gt', $gte: 'gte', $lt: 'lt', $lte: 'lte' }[part.op]
        return { key: field, range: { [bound]: part.value } }
      }
    }
  }

  const root = translate(node)
  if (root === ALWAYS) return {}
  if (root === NEVER) return { must: [{ has_id: [] }] }
  return isBareFilter(root) ? root : { must: [root] }
}

function equals(key: string, value: FilterScalar): Condition {
  return typeof value === 'number' ? { key, range: { gte: value, lte: value } } : { key, match: { value } }
}

/** Any of the values: strings in one `match.any`, each boolean and number on its own. */
function oneOf(key: string, values: readonly FilterScalar[]): Condition {
  const strings = [...new Set(values.filter((v): v is string => typeof v === 'string'))]
  const others = [...new Set(values.filter((v) => typeof v !== 'string'))]
  const conditions: Condition[] = others.map((value) => equals(key, value))
  if (strings.length === 1) conditions.unshift({ key, match: { value: strings[0] as string } })
  else if (strings.length > 1) conditions.unshift({ key, match: { any: strings } })
  return conditions.length === 1 ? (conditions[0] as Condition) : { should: conditions }
}

/** AND: `never` wins, `always` drops out; nested `must` and `must_not` lists are merged into one filter. */
function all(parts: Part[]): Part {
  if (parts.includes(NEVER)) return NEVER
  const must: Condition[] = []
  const mustNot: Condition[] = []
  for (const part of parts) {
    if (part === ALWAYS || part === NEVER) continue
    if (isBareFilter(part) && part.should === undefined) {
      must.push(...asList(part.must))
      mustNot.push(...asList(part.must_not))
    } else {
      must.push(part)
    }
  }
  if (must.length === 0 && mustNot.length === 0) return ALWAYS
  if (must.length === 1 && mustNot.length === 0) return must[0] as Condition
  const out: Filter = {}
  if (must.length > 0) out.must = must
  if (mustNot.length > 0) out.must_not = mustNot
  return out
}

/** OR: `always` wins, `never` drops out; nested `should` lists are merged. */
function any(parts: Part[]): Part {
  if (parts.includes(ALWAYS)) return ALWAYS
  const should: Condition[] = []
  for (const part of parts) {
    if (part === NEVER || part === ALWAYS) continue
    if (isBareFilter(part) && part.must === undefined && part.must_not === undefined)
      should.push(...asList(part.should))
    else should.push(part)
  }
  if (should.length === 0) return NEVER
  return should.length === 1 ? (should[0] as Condition) : { should }
}

/** A nested filter (`must`/`should`/`must_not`) rather than a single condition. */
function isBareFilter(part: Condition): part is Filter {
  return (
    !('key' in part) &&
    !('is_empty' in part) &&
    !('is_null' in part) &&
    !('has_id' in part) &&
    !('has_vector' in part) &&
    !('nested' in part)
  )
}

function asList(value: Filter['must']): Condition[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value as Condition]
}
