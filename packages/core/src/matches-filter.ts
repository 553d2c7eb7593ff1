import type { FilterNode, FilterScalar } from './filter.js'
import type { Metadata, MetadataValue } from './vector-store.js'

/**
 * The reference evaluator of the filter language: whether `metadata` matches a validated
 * filter. Every store's translation must select exactly the records this function accepts.
 */
export function matchesFilter(node: FilterNode, metadata: Metadata | undefined): boolean {
  switch (node.kind) {
    case 'and':
      return node.children.every((child) => matchesFilter(child, metadata))
    case 'or':
      return node.children.some((child) => matchesFilter(child, metadata))
    case 'exists':
      return hasField(metadata, node.field) === node.exists
    case 'in': {
      const value = field(metadata, node.field)
      const hit = value !== undefined && node.values.some((candidate) => equals(value, candidate))
      return node.op === '$in' ? hit : !hit
    }
    case 'compare': {
      const value = field(metadata, node.field)
      if (node.op === '$eq') return value !== undefined && equals(value, node.value)
      if (node.op === '$ne') return value === undefined || !equals(value, node.value)
      if (value === undefined || Array.isArray(value) || typeof value !== typeof node.value) return false
      const order =
        typeof value === 'number'
          ? value - (node.value as number)
          : compareCodePoints(value as string, node.value as string)
      if (node.op === '$gt') return order > 0
      if (node.op === '$gte') return order >= 0
      if (node.op === '$lt') return order < 0
      return order <= 0
    }
  }
}

/** Orders strings by Unicode code point, which is also UTF-8 byte order (SQLite BINARY, Postgres "C"). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      // A surrogate (0xD800–0xDFFF) encodes a code point above 0xFFFF, so it sorts after 0xE000–0xFFFF.
      const xs = x >= 0xd800 && x <= 0xdfff
      const ys = y >= 0xd800 && y <= 0xdfff
      if (xs !== ys) return xs ? 1 : -1
      return x - y
    }
  }
  return a.length - b.length
}

function hasField(metadata: Metadata | undefined, name: string): boolean {
  return metadata !== undefined && Object.hasOwn(metadata, name)
}

function field(metadata: Metadata | undefined, name: string): MetadataValue | undefined {
  return hasField(metadata, name) ? metadata?.[name] : undefined
}

function equals(value: MetadataValue, candidate: FilterScalar): boolean {
  if (Array.isArray(value)) return value.includes(candidate as string)
  return value === candidate
}
