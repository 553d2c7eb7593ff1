import type { SqlDialect, SqlValue } from '@engram/core'

/**
 * What a column holds, whatever the dialect calls it. Migration translates these between SQLite
 * and Postgres; `numeric` (SQLite's), `any` (a SQLite column without a type) and `other`
 * (arrays, geometric, network and user-defined types) have no translation.
 */
export type ColumnKind =
  | 'integer'
  | 'real'
  | 'text'
  | 'blob'
  | 'boolean'
  | 'json'
  | 'timestamp'
  | 'numeric'
  | 'any'
  | 'other'

/** The kind of a column from its declared type, following SQLite's affinity rules or Postgres's type names. */
export function columnKind(dialect: SqlDialect, declared: string): ColumnKind {
  const type = declared.trim().toUpperCase()
  if (dialect === 'sqlite') {
    if (type === '') return 'any'
    if (type.includes('BOOL')) return 'boolean'
    if (type.includes('INT')) return 'integer'
    if (type.includes('JSON')) return 'json'
    if (/CHAR|CLOB|TEXT|UUID/.test(type)) return 'text'
    if (type.includes('BLOB')) return 'blob'
    if (/REAL|FLOA|DOUB/.test(type)) return 'real'
    if (/DATE|TIME/.test(type)) return 'timestamp'
    if (/NUMERIC|DECIMAL/.test(type)) return 'numeric'
    return 'other'
  }
  if (type.endsWith('[]')) return 'other'
  if (/^(SMALLINT|INTEGER|BIGINT)$/.test(type)) return 'integer'
  if (/^(REAL|DOUBLE PRECISION)$/.test(type)) return 'real'
  if (/^(TEXT|NAME|UUID|CITEXT|"CHAR"|CHARACTER( VARYING)?(\(\d+\))?)$/.test(type)) return 'text'
  if (type === 'BYTEA') return 'blob'
  if (type === 'BOOLEAN') return 'boolean'
  if (type === 'JSON' || type === 'JSONB') return 'json'
  if (/^(TIMESTAMP|TIME|DATE|INTERVAL)\b/.test(type)) return 'timestamp'
  if (/^NUMERIC\b/.test(type)) return 'numeric'
  return 'other'
}

const TO_POSTGRES: Partial<Record<ColumnKind, string>> = {
  integer: 'BIGINT',
  real: 'DOUBLE PRECISION',
  text: 'TEXT',
  blob: 'BYTEA',
  boolean: 'BOOLEAN',
  json: 'JSONB',
  timestamp: 'TEXT',
}

const TO_SQLITE: Partial<Record<ColumnKind, string>> = {
  integer: 'INTEGER',
  real: 'REAL',
  text: 'TEXT',
  blob: 'BLOB',
  boolean: 'BOOLEAN',
  json: 'TEXT',
  timestamp: 'TEXT',
  numeric: 'TEXT',
}

/**
 * The type a source column gets in a target table that migration creates: the declared type
 * as it is between databases of one dialect, a translation between SQLite and Postgres
 * (INTEGER ↔ BIGINT, REAL ↔ DOUBLE PRECISION, BLOB ↔ BYTEA, JSON text → JSONB, JSON/JSONB →
 * TEXT, booleans, timestamps and Postgres numerics as text), or `undefined` when there is none.
 */
export function translateType(from: SqlDialect, to: SqlDialect, declared: string): string | undefined {
  if (from === to) return declared
  const kind = columnKind(from, declared)
  return (to === 'postgres' ? TO_POSTGRES : TO_SQLITE)[kind]
}

/** A value that does not fit the target column; the caller names the row. */
export class ValueMismatch {
  constructor(readonly problem: string) {}
}

/**
 * Maps a value read from one dialect to what the other dialect's column of `kind` takes:
 * SQLite's 1/0 become Postgres booleans, numbers bound to a JSONB or numeric column become
 * their text. A value the column cannot hold exactly (text in an integer column, a fraction
 * in an integer column, NUL in Postgres text) is a `ValueMismatch`, never a silent change.
 */
export function convertValue(value: SqlValue, kind: ColumnKind, to: SqlDialect): SqlValue | ValueMismatch {
  if (value === null) return null
  if (to === 'sqlite') {
    return Array.isArray(value) ? new ValueMismatch('is a Postgres array, which SQLite cannot hold') : value
  }
  switch (kind) {
    case 'integer':
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return value
      return mismatch(value, 'an integer column')
    case 'real':
      if (typeof value === 'number') return value
      return mismatch(value, 'a double precision column')
    case 'text':
    case 'timestamp':
      if (typeof value === 'string') return value.includes('\u0000') ? nul() : value
      return mismatch(value, 'a text column')
    case 'numeric':
      if (typeof value === 'number' || typeof value === 'bigint') return String(value)
      if (typeof value === 'string') return value
      return mismatch(value, 'a numeric column')
    case 'blob':
      if (value instanceof Uint8Array) return value
      return mismatch(value, 'a bytea column')
    case 'boolean':
      if (typeof value === 'boolean') return value
      if (value === 0 || value === 0n) return false
      if (value === 1 || value === 1n) return true
      return mismatch(value, 'a boolean column (which takes 0, 1, true or false)')
    case 'json':
      if (typeof value === 'string') return value.includes('\u0000') ? nul() : value
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
        return String(value)
      return mismatch(value, 'a JSONB column')
    default:
      return value
  }
}

function nul(): ValueMismatch {
  return new ValueMismatch('holds the character U+0000, which Postgres text cannot store')
}

function mismatch(value: SqlValue, column: string): ValueMismatch {
  return new ValueMismatch(`holds ${describeValue(value)}, which ${column} cannot hold exactly`)
}

/** A short description of a value for messages: its kind and a little of it. */
export function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `a ${value.byteLength}-byte blob`
  if (typeof value === 'string')
    return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (typeof value === 'number')
    return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`
  if (typeof value === 'bigint') return `the integer ${value}`
  if (Array.isArray(value)) return 'an array'
  return String(value)
}
