import { type FilterNode, type FilterScalar, StorageError } from '@engram/core'
import { EMPTY_KEY, FIELDS_KEY, RESERVED_PREFIX } from './pinecone-record.js'

/** A filter in Pinecone's language. */
export type PineconeFilter = Record<string, unknown>

/**
 * A translated filter: Pinecone's form, or `true` when it keeps every record (send no filter)
 * or `false` when it can keep none (skip the request).
 */
export type TranslatedFilter = PineconeFilter | boolean

/** Options for `pineconeFilter`. */
export interface PineconeFilterOptions {
  /** The list field naming every metadata key of a record. Default is the store's `__engram_fields`. */
  fieldsKey?: string
  /** The list field naming the keys whose value is an empty list. Default is the store's `__engram_empty`. */
  emptyKey?: string
}

/**
 * Translates a checked engram filter into Pinecone's language so that it selects exactly what
 * core's `matchesFilter` accepts. Pinecone documents list fields Mongo-style (`$eq`/`$in` match
 * when any element does, `$ne`/`$nin` only when none does) but not what `$ne`/`$nin` do on a record
 * that lacks the field, nor how it keeps an empty list. So the store never sends empty lists,
 * names every record's keys in a list field, and writes "lacks the field" as a test on that list:
 * `{ f: { $ne: v } }` becomes `$or` of "f is not among the keys", "f is an empty list" and
 * Pinecone's `$ne`. Booleans leave `$in`/`$nin` (Pinecone takes strings and numbers there) for
 * `$eq`/`$ne`. Ranges take numbers only; string bounds are refused in core (`stringRanges: false`).
 *
 * @example
 * pineconeFilter(validateFilter({ tags: { $ne: 'ai' } }))
 * // { $or: [{ __engram_fields: { $nin: ['tags'] } }, { __engram_empty: 'tags' }, { tags: { $ne: 'ai' } }] }
 */
export function pineconeFilter(node: FilterNode, options: PineconeFilterOptions = {}): TranslatedFilter {
  const keys = { fields: options.fieldsKey ?? FIELDS_KEY, empty: options.emptyKey ?? EMPTY_KEY }
  return translate(node, keys)
}

interface Keys {
  readonly fields: string
  readonly empty: string
}

function translate(node: FilterNode, keys: Keys): TranslatedFilter {
  switch (node.kind) {
    case 'and':
      return allOf(node.children.map((child) => translate(child, keys)))
    case 'or':
      return anyOf(node.children.map((child) => translate(child, keys)))
    case 'exists':
      checkField(node.field)
      return node.exists ? { [keys.fields]: node.field } : lacks(node.field, keys)
    case 'in': {
      checkField(node.field)
      const scalars = node.values.filter((v): v is string | number => typeof v !== 'boolean')
      const booleans = [...new Set(node.values.filter((v): v is boolean => typeof v === 'boolean'))]
      if (node.op === '$in') {
        return anyOf([
          ...(scalars.length > 0 ? [{ [node.field]: { $in: scalars } }] : []),
          ...booleans.map((b) => ({ [node.field]: { $eq: b } })),
        ])
      }
      if (node.values.length === 0) return true
      const none = allOf([
        ...(scalars.length > 0 ? [{ [node.field]: { $nin: scalars } }] : []),
        ...booleans.map((b) => ({ [node.field]: { $ne: b } })),
      ])
      return anyOf([lacks(node.field, keys), { [keys.empty]: node.field }, none])
    }
    case 'compare': {
      checkField(node.field)
      if (node.op === '$eq') return { [node.field]: { $eq: node.value } }
      if (node.op === '$ne') {
        return anyOf([
          lacks(node.field, keys),
          { [keys.empty]: node.field },
          { [node.field]: { $ne: node.value } },
        ])
      }
      return { [node.field]: { [node.op]: rangeBound(node.field, node.value) } }
    }
  }
}

/** A record lacks `field`: its key list (always present, never empty) does not name it. */
function lacks(field: string, keys: Keys): PineconeFilter {
  return { [keys.fields]: { $nin: [field] } }
}

function allOf(parts: readonly TranslatedFilter[]): TranslatedFilter {
  if (parts.includes(false)) return false
  const kept = parts.filter((part): part is PineconeFilter => part !== true)
  if (kept.length === 0) return true
  return kept.length === 1 ? (kept[0] as PineconeFilter) : { $and: kept }
}

function anyOf(parts: readonly TranslatedFilter[]): TranslatedFilter {
  if (parts.includes(true)) return true
  const kept = parts.filter((part): part is PineconeFilter => part !== false)
  if (kept.length === 0) return false
  return kept.length === 1 ? (kept[0] as PineconeFilter) : { $or: kept }
}

function rangeBound(field: string, value: FilterScalar): number {
  if (typeof value !== 'number') {
    throw new StorageError(
      'UNSUPPORTED',
      `Pinecone orders only numbers, so a range on ${field} cannot compare ${typeof value}s; filter on exact values with $eq or $in instead`,
    )
  }
  return value
}

function checkField(field: string): void {
  if (field.startsWith(RESERVED_PREFIX)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `The filter field ${field} starts with ${RESERVED_PREFIX}, which the Pinecone store reserves for its own fields`,
    )
  }
}
