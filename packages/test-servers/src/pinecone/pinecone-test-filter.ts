/** A metadata value as Pinecone stores it: string, number, boolean or list of strings. */
export type PineconeMetadataValue = string | number | boolean | string[]

/** A record's metadata as Pinecone stores it. */
export type PineconeMetadata = Record<string, PineconeMetadataValue>

/** Raised for a filter Pinecone would refuse; the server answers 400 with this message. */
export class PineconeFilterError extends Error {
  override readonly name = 'PineconeFilterError'
}

const COMPARISONS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte'])
const RANGES = new Set(['$gt', '$gte', '$lt', '$lte'])

/** A checked filter: a predicate over metadata. */
export type PineconePredicate = (metadata: PineconeMetadata) => boolean

/**
 * Checks a filter the way Pinecone documents its language and returns the predicate it stands
 * for. Semantics follow Pinecone's documentation: `{ field: value }` is `$eq`; several keys are
 * ANDed; on a list field `$eq`/`$in` match when any element matches and `$ne`/`$nin` only when
 * none does; ranges take numbers only; `$in`/`$nin` take strings and numbers only; values never
 * convert between types. The documentation leaves open whether `$ne`/`$nin` match a record that
 * lacks the field, so this server takes the strict reading (they do not): a client that relies on
 * either reading fails here.
 */
export function compilePineconeFilter(filter: unknown): PineconePredicate {
  if (!isPlainObject(filter)) fail(`The filter must be an object, got ${describe(filter)}`)
  const parts: PineconePredicate[] = []
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) fail(`${key} takes a non-empty array of filters`)
      const children = value.map(compilePineconeFilter)
      parts.push(key === '$and' ? (m) => children.every((c) => c(m)) : (m) => children.some((c) => c(m)))
    } else if (key.startsWith('$')) {
      fail(`Unknown top-level operator ${key}`)
    } else {
      parts.push(compileField(key, value))
    }
  }
  return (metadata) => parts.every((part) => part(metadata))
}

function compileField(field: string, condition: unknown): PineconePredicate {
  if (isScalar(condition)) return compileOperator(field, '$eq', condition)
  if (Array.isArray(condition)) {
    fail(`Invalid filter for field ${field}: a list is not a value; use $in to match any of several`)
  }
  if (!isPlainObject(condition) || Object.keys(condition).length === 0) {
    fail(`Invalid filter for field ${field}: expected a value or an operator object`)
  }
  const parts = Object.entries(condition).map(([op, value]) => compileOperator(field, op, value))
  return (metadata) => parts.every((part) => part(metadata))
}

function compileOperator(field: string, op: string, operand: unknown): PineconePredicate {
  if (COMPARISONS.has(op)) {
    if (!isScalar(operand)) fail(`${op} on field ${field} takes a string, number or boolean`)
    if (RANGES.has(op) && typeof operand !== 'number') fail(`${op} on field ${field} takes a number`)
    return (metadata) => {
      if (!Object.hasOwn(metadata, field)) return false
      const value = metadata[field] as PineconeMetadataValue
      switch (op) {
        case '$eq':
          return matchesAny(value, [operand])
        case '$ne':
          return !matchesAny(value, [operand])
        default:
          return typeof value === 'number' && compare(op, value, operand as number)
      }
    }
  }
  if (op === '$in' || op === '$nin') {
    if (!Array.isArray(operand)) fail(`${op} on field ${field} takes an array`)
    for (const item of operand) {
      if (typeof item !== 'string' && typeof item !== 'number') {
        fail(`${op} on field ${field} takes strings and numbers only, got ${describe(item)}`)
      }
    }
    const values = operand as Array<string | number>
    return (metadata) => {
      if (!Object.hasOwn(metadata, field)) return false
      const hit = matchesAny(metadata[field] as PineconeMetadataValue, values)
      return op === '$in' ? hit : !hit
    }
  }
  if (op === '$exists') {
    if (typeof operand !== 'boolean') fail(`$exists on field ${field} takes true or false`)
    return (metadata) => Object.hasOwn(metadata, field) === operand
  }
  fail(`Unknown operator ${op} on field ${field}`)
}

/** Whether a stored value equals one of `candidates`; a list matches when any element does. */
function matchesAny(value: PineconeMetadataValue, candidates: readonly unknown[]): boolean {
  if (Array.isArray(value)) return value.some((item) => candidates.includes(item))
  return candidates.includes(value)
}

function compare(op: string, value: number, bound: number): boolean {
  if (op === '$gt') return value > bound
  if (op === '$gte') return value >= bound
  if (op === '$lt') return value < bound
  return value <= bound
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}

function fail(message: string): never {
  throw new PineconeFilterError(message)
}
