import type { Row, SqlDialect } from './storage-adapter.js'
import { StorageError } from './storage-error.js'

// In a `u` regex a surrogate pair is one code point above U+FFFF, so this matches only a lone half.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/**
 * Whether a string can be bound exactly: UTF-8 (what every driver sends) cannot encode a lone
 * UTF-16 surrogate, which drivers would silently replace with U+FFFD, and PostgreSQL's text
 * cannot hold NUL.
 */
export function isBindableString(value: string, dialect: SqlDialect): boolean {
  return !LONE_SURROGATE.test(value) && (dialect === 'sqlite' || !value.includes('\u0000'))
}

function checkString(value: string, dialect: SqlDialect, where: number | string): string {
  if (LONE_SURROGATE.test(value)) {
    throw paramError(
      where,
      'holds a lone UTF-16 surrogate, which cannot be stored as UTF-8 (it would come back as U+FFFD)',
    )
  }
  if (dialect === 'postgres' && value.includes('\u0000')) {
    throw paramError(
      where,
      'holds a NUL character, which PostgreSQL text cannot store; use bytea for binary data',
    )
  }
  return value
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)

/**
 * Maps one parameter to the value the driver binds, following the value rules in core's README:
 * booleans are 1/0 on SQLite, a `Date` is its ISO-8601 UTC string, `undefined` is an error.
 * `where` names the parameter (its 1-based position or its name) in error messages.
 */
export function toDriverValue(value: unknown, dialect: SqlDialect, where: number | string): unknown {
  switch (typeof value) {
    case 'string':
      return checkString(value, dialect, where)
    case 'bigint':
      return value
    case 'number':
      if (Number.isNaN(value)) throw paramError(where, 'is NaN, which no database stores portably')
      return value
    case 'boolean':
      return dialect === 'sqlite' ? (value ? 1 : 0) : value
    case 'undefined':
      throw paramError(where, 'is undefined; pass null to store NULL')
    case 'object':
      if (value === null || value instanceof Uint8Array) return value
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw paramError(where, 'is an invalid Date')
        return value.toISOString()
      }
      if (Array.isArray(value) && dialect === 'postgres') {
        for (const item of value) if (typeof item === 'string') checkString(item, dialect, where)
        return value
      }
      throw paramError(
        where,
        Array.isArray(value)
          ? 'is an array, which SQLite cannot bind; store JSON.stringify(value) instead'
          : 'is an object; store JSON.stringify(value) instead',
      )
    default:
      throw paramError(where, `is a ${typeof value}, which cannot be bound`)
  }
}

function paramError(where: number | string, problem: string): StorageError {
  const name = typeof where === 'number' ? `Parameter ${where}` : `Parameter :${where}`
  return new StorageError('INVALID_ARGUMENT', `${name} ${problem}`)
}

/** An integer read as `bigint` becomes a `number` when that loses nothing, and stays `bigint` otherwise. */
export function fromDriverInteger(value: bigint): number | bigint {
  return value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value
}

/**
 * Applies the read-side value rules to a row in place: safe `bigint`s become numbers and
 * binary values (such as Node's `Buffer`) become plain `Uint8Array` views of the same bytes.
 */
export function normalizeRow<T extends Row>(row: T): T {
  const record = row as Row
  for (const key in record) {
    const value = record[key]
    if (typeof value === 'bigint') {
      record[key] = fromDriverInteger(value)
    } else if (value instanceof Uint8Array && value.constructor !== Uint8Array) {
      record[key] = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    }
  }
  return row
}
