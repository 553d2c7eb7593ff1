import { fromDriverInteger } from '@engram/core'
import pg from 'pg'

/** The `types` object pg accepts per pool or per query: a parser for each type OID. */
export interface PgTypeParsers {
  /** Returns the function that turns the server's text for `oid` into a JavaScript value. */
  getTypeParser(oid: number, format?: string): (value: string) => unknown
}

// Type OIDs from pg_type.
const INT8 = 20
const INT8_ARRAY = 1016
// date, time, timestamp, timestamptz, interval, timetz: kept as the text Postgres prints.
const TEMPORAL = new Set([1082, 1083, 1114, 1184, 1186, 1266])
const TEMPORAL_ARRAYS = new Set([1182, 1183, 1115, 1185, 1187, 1270])
const TEXT_ARRAY = 1009

const identity = (value: string): string => value

/** int8 as a `number` when that is exact, else a `bigint`: the read side of core's value rules. */
export function parseInt8(value: string): number | bigint {
  // Up to 15 digits always fits in 2^53, so the common case skips the bigint detour.
  return value.length <= 15 ? Number(value) : fromDriverInteger(BigInt(value))
}

/** An int8[] value such as `{1,-2,NULL}` or `{{1,2},{3,4}}`, each element by `parseInt8`. */
function parseInt8Array(value: string): unknown {
  // Quote the digits so JSON.parse cannot round them, then map each element.
  const json = value
    .replace(/-?\d+/g, '"$&"')
    .replace(/\{/g, '[')
    .replace(/\}/g, ']')
    .replace(/NULL/g, 'null')
  const map = (item: unknown): unknown =>
    Array.isArray(item) ? item.map(map) : typeof item === 'string' ? parseInt8(item) : item
  return map(JSON.parse(json))
}

/**
 * Type parsers for one adapter's connections, so other `pg` users in the process keep theirs:
 * int8 follows core's integer rule, dates and timestamps stay strings (no time-zone guessing),
 * numeric stays a string (exact), bytea is a Buffer that core turns into a plain Uint8Array.
 */
export function createPgTypeParsers(): PgTypeParsers {
  const parseTextArray = pg.types.getTypeParser(TEXT_ARRAY as never, 'text') as (value: string) => unknown
  return {
    getTypeParser(oid: number, format = 'text') {
      if (format === 'text') {
        if (oid === INT8) return parseInt8
        if (oid === INT8_ARRAY) return parseInt8Array
        if (TEMPORAL.has(oid)) return identity
        if (TEMPORAL_ARRAYS.has(oid)) return parseTextArray
      }
      return pg.types.getTypeParser(oid as never, format as 'text') as (value: string) => unknown
    },
  }
}

/**
 * Bytes bound in binary format with no parameter type: the server reads them with the receive
 * function of the type the statement gives the parameter (a `::vector` cast, or the other operand
 * of `<=>`), not as `bytea`. A plain `Uint8Array` stays `bytea`.
 */
export class UntypedBinary extends Uint8Array {}

// Parameter type OIDs sent with Parse. 0 lets the server infer the type from context.
const BOOL = 16
const BYTEA = 17
const INT4 = 23
const FLOAT8 = 701
const NUMERIC = 1700
const MIN_INT8 = -(2n ** 63n)
const MAX_INT8 = 2n ** 63n - 1n

/**
 * The Parse-message type for each bound value. Numbers and booleans are typed like SQL
 * literals (`SELECT ?` with 2 returns the number 2, not the text '2'); strings, nulls and
 * arrays stay untyped so Postgres infers them from where they are used (timestamps, jsonb, arrays).
 * Returns `undefined` when every value is untyped.
 */
export function parameterTypes(values: readonly unknown[]): number[] | undefined {
  let types: number[] | undefined
  for (let i = 0; i < values.length; i++) {
    const oid = parameterType(values[i])
    if (oid !== 0) {
      types ??= new Array<number>(values.length).fill(0)
      types[i] = oid
    }
  }
  return types
}

function parameterType(value: unknown): number {
  switch (typeof value) {
    case 'number':
      if (!Number.isInteger(value)) return FLOAT8
      if (value >= -2_147_483_648 && value <= 2_147_483_647) return INT4
      return Number.isSafeInteger(value) ? INT8 : FLOAT8
    case 'bigint':
      return value >= MIN_INT8 && value <= MAX_INT8 ? INT8 : NUMERIC
    case 'boolean':
      return BOOL
    case 'object':
      return value instanceof Uint8Array && !(value instanceof UntypedBinary) ? BYTEA : 0
    default:
      return 0
  }
}
