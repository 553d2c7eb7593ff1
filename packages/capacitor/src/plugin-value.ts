import type { Row } from '@engram/core'
import { fromDriverInteger } from '@engram/core'

/**
 * The platform the plugin runs on, as `Capacitor.getPlatform()` reports it. It decides how
 * blobs and big integers cross the bridge, because each native side reads them differently.
 */
export type CapacitorPlatform = 'android' | 'ios' | 'electron' | 'web'

/**
 * Turns one parameter (already mapped by core's value rules) into what the plugin binds on
 * `platform`. Android and iOS receive parameters as JSON, where a `Uint8Array` becomes an
 * object of indexes and a `bigint` cannot be written at all:
 * - blobs: Android binds `{ type: 'Buffer', data: number[] }` (Node's Buffer JSON shape), iOS a
 *   `number[]`; Electron (IPC structured clone) and the web plugin take the `Uint8Array` itself.
 * - integers beyond 2^53: the decimal text, which SQLite stores as the exact integer in a column
 *   with INTEGER affinity; Electron binds the `bigint` itself.
 */
export function toPluginValue(value: unknown, platform: CapacitorPlatform): unknown {
  if (value instanceof Uint8Array) {
    if (platform === 'android') return { type: 'Buffer', data: Array.from(value) }
    if (platform === 'ios') return Array.from(value)
    return value
  }
  if (typeof value === 'bigint') {
    const exact = fromDriverInteger(value)
    if (typeof exact === 'number' || platform === 'electron') return exact
    return exact.toString()
  }
  return value
}

/**
 * Applies the read side in place: every native side returns a blob as an array of byte values
 * (a row value is never an array otherwise), Electron as a `Uint8Array` or Buffer JSON.
 */
export function fromPluginRow(row: Row): Row {
  for (const key in row) {
    const value = row[key]
    if (Array.isArray(value)) row[key] = Uint8Array.from(value as number[])
    else if (isBufferJson(value)) row[key] = Uint8Array.from(value.data)
  }
  return row
}

function isBufferJson(value: unknown): value is { type: 'Buffer'; data: number[] } {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  )
}
