import type { Schemas } from '@qdrant/js-client-rest'
import { QdrantHttpError } from './qdrant-http-error.js'

/** A point id as the server keeps it: an unsigned integer or a UUID in its hyphenated lowercase form. */
export type PointId = number | string

const HEX32 = /^[0-9a-f]{32}$/

/**
 * Reads a point id the way Qdrant does: an unsigned integer, or a UUID in any of the forms
 * Rust's `uuid` crate parses (hyphenated, simple, braced, `urn:uuid:`). Anything else is the
 * 400 Qdrant answers with.
 */
export function parsePointId(value: Schemas['ExtendedPointId'] | unknown, where = 'point id'): PointId {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === 'string') {
    let text = value.toLowerCase()
    if (text.startsWith('urn:uuid:')) text = text.slice(9)
    else if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1)
    const hyphenated = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)
    const simple = text.replaceAll('-', '')
    if ((hyphenated || !text.includes('-')) && HEX32.test(simple)) {
      return `${simple.slice(0, 8)}-${simple.slice(8, 12)}-${simple.slice(12, 16)}-${simple.slice(16, 20)}-${simple.slice(20)}`
    }
  }
  throw new QdrantHttpError(
    400,
    `Format error in JSON body: value ${JSON.stringify(value)} is not a valid ${where}, valid values are either an unsigned integer or a UUID`,
  )
}

/** The map key of a point id: integers and UUIDs never collide. */
export function pointKey(id: PointId): string {
  return typeof id === 'number' ? `#${id}` : id
}

/** Qdrant's id order: every integer id before every UUID, integers by value, UUIDs by their 128-bit value. */
export function comparePointIds(a: PointId, b: PointId): number {
  if (typeof a === 'number') return typeof b === 'number' ? a - b : -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}
