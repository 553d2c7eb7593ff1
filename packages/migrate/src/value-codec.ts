import { type SqlValue, StorageError } from '@engram/core'

/**
 * A value as an export's row line holds it: JSON's own null, strings, booleans and finite
 * numbers, and a tagged object for what JSON cannot say exactly.
 */
export type EncodedValue =
  | null
  | string
  | number
  | boolean
  | { readonly $int: string }
  | { readonly $real: 'Infinity' | '-Infinity' | 'NaN' | '-0' }
  | { readonly $bytes: string }
  | { readonly $array: readonly EncodedValue[] }

/**
 * Turns a value read from an adapter into its export form: integers beyond 2^53 (core returns
 * them as `bigint`) become `{ $int: "digits" }`, blobs `{ $bytes: base64 }`, non-finite numbers
 * and negative zero `{ $real: … }`, Postgres arrays `{ $array: […] }`.
 */
export function encodeValue(value: unknown): EncodedValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value
      return { $real: Object.is(value, -0) ? '-0' : (String(value) as 'Infinity' | '-Infinity' | 'NaN') }
    case 'bigint':
      return { $int: value.toString() }
    case 'object':
      if (value === null) return null
      if (value instanceof Uint8Array) {
        return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
      }
      if (Array.isArray(value)) return { $array: value.map(encodeValue) }
      break
  }
  throw new StorageError(
    'UNSUPPORTED',
    `A ${describe(value)} value cannot be exported; engram exports strings, numbers, integers, booleans, blobs, NULL and Postgres arrays`,
  )
}

/** The inverse of `encodeValue`: an export's value back to what an adapter binds. */
export function decodeValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value
    case 'object': {
      if (value === null) return null
      if (Array.isArray(value)) break
      const tagged = value as Record<string, unknown>
      if (typeof tagged.$int === 'string' && /^-?\d+$/.test(tagged.$int)) return BigInt(tagged.$int)
      if (typeof tagged.$bytes === 'string') return new Uint8Array(Buffer.from(tagged.$bytes, 'base64'))
      if (typeof tagged.$real === 'string') {
        const real = { Infinity, '-Infinity': -Infinity, NaN, '-0': -0 }[tagged.$real]
        if (real !== undefined) return real
      }
      if (Array.isArray(tagged.$array)) return tagged.$array.map(decodeValue)
      break
    }
  }
  throw new StorageError(
    'INVALID_ARGUMENT',
    `${JSON.stringify(value)?.slice(0, 80)} is not a value of the engram export format; the file is damaged or was not written by engram`,
  )
}

/** A page key (the last row's key values) as text, for the checkpoint table. */
export function encodeKey(values: readonly unknown[]): string {
  return JSON.stringify(values.map(encodeValue))
}

/** The inverse of `encodeKey`. */
export function decodeKey(text: string): SqlValue[] {
  const parsed: unknown = JSON.parse(text)
  if (!Array.isArray(parsed))
    throw new StorageError('INVALID_ARGUMENT', `Checkpoint key ${text} is not a list`)
  return parsed.map(decodeValue)
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return typeof value
  return value.constructor?.name ?? 'object'
}
