import { StorageError } from '@engram/core'

/** The default `namespacePrefix`. */
export const DEFAULT_NAMESPACE_PREFIX = 'engram'
const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/
/** Tenant characters written as they are; every other byte is written `%XX`. */
const PLAIN_TENANT_CHARACTER = /[A-Za-z0-9_.-]/
/** An escaped tenant longer than this is replaced by its hash, so a namespace stays within 512. */
const MAX_TENANT_PART = 200

const encoder = new TextEncoder()

/**
 * Where a store's data lives in the index. Every name has the form
 * `<prefix>:<collection>:<tenant>`: the prefix and the escaped tenant can never contain `:` and a
 * collection name cannot either, so a namespace name is read back one way only and no two
 * (prefix, collection, tenant) triples share a namespace. The registry of collections is the
 * namespace `<prefix>:`, which no collection namespace can equal.
 */
export interface NamespaceScheme {
  /** The registry namespace: one record per collection, holding its dimension and metric. */
  readonly registry: string
  /** The namespace of one collection for this store's tenant. */
  collection(name: string): string
  /** The prefix every tenant's namespace of one collection starts with. */
  collectionPrefix(name: string): string
}

/** Checks a `namespacePrefix`: 1 to 64 letters, digits, `_`, `.` or `-`. */
export function checkNamespacePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `namespacePrefix must be 1 to 64 letters, digits, _, . or -, got ${JSON.stringify(prefix)}`,
    )
  }
  return prefix
}

/** Checks the prefix and returns the naming scheme of a store for `tenant` (already checked). */
export async function namespaceScheme(prefix: string, tenant: string): Promise<NamespaceScheme> {
  checkNamespacePrefix(prefix)
  const tenantPart = await escapeTenant(tenant)
  return {
    registry: `${prefix}:`,
    collection: (name) => `${prefix}:${name}:${tenantPart}`,
    collectionPrefix: (name) => `${prefix}:${name}:`,
  }
}

/**
 * A tenant as namespace text: letters, digits, `_`, `.` and `-` as they are, every other UTF-8
 * byte as `%XX` (so `%` itself is escaped and the form is one-to-one). A form longer than 200
 * characters becomes `#` and the hex SHA-256 of the tenant; `#` never appears in the escaped form.
 */
async function escapeTenant(tenant: string): Promise<string> {
  let escaped = ''
  for (const character of tenant) {
    if (PLAIN_TENANT_CHARACTER.test(character)) {
      escaped += character
    } else {
      for (const byte of encoder.encode(character))
        escaped += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  if (escaped.length <= MAX_TENANT_PART) return escaped
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(tenant)))
  return `#${Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
}
