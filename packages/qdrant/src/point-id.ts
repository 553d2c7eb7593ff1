import { createHash } from 'node:crypto'

/**
 * The namespace every engram point id is derived under: the UUIDv5 of
 * `https://github.com/engram/engram/packages/qdrant#point-id` in RFC 9562's URL namespace.
 * Fixed forever, so a collection written today is addressable by any later version.
 */
export const QDRANT_ID_NAMESPACE = '461b665c-8a18-539d-876c-9e132aaf30e0'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A name-based UUID, version 5 (RFC 9562): SHA-1 of the namespace's 16 bytes followed by the
 * name's UTF-8 bytes, with the version and variant bits set.
 *
 * @example
 * uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8') // '2ed6657d-e927-568b-95e1-2665a8aea6a2'
 */
export function uuidV5(name: string, namespace: string): string {
  if (!UUID.test(namespace)) throw new TypeError(`Not a UUID: ${JSON.stringify(namespace)}`)
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest()
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The Qdrant point id of an engram record id: `uuidV5(id, QDRANT_ID_NAMESPACE)`, or for a
 * tenant-scoped store `uuidV5(tenant + '\u0000' + id, QDRANT_ID_NAMESPACE)`. Ids and tenants never
 * contain U+0000, so no two (tenant, id) pairs share a point, and tenants sharing a collection
 * can use the same ids. Default tenant is `''`.
 *
 * @example
 * qdrantPointId('user:42/note#7') // 'b9c88b25-3576-51e4-b696-f1a172ec6db5'
 */
export function qdrantPointId(id: string, tenant = ''): string {
  return uuidV5(tenant === '' ? id : `${tenant}\u0000${id}`, QDRANT_ID_NAMESPACE)
}
