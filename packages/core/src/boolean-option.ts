import { StorageError } from './storage-error.js'

/**
 * Reads an optional on/off setting: `fallback` when it is `undefined`, the value when it is a
 * boolean, and an `INVALID_ARGUMENT` naming the option otherwise. A string such as `'false'`
 * from an environment variable is refused rather than read as "on".
 *
 * @example
 * const wal = booleanOption(config.wal, true, 'wal')
 */
export function booleanOption(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new StorageError('INVALID_ARGUMENT', `${name} must be true or false, got ${describe(value)}`)
  }
  return value
}

/** A short rendering of a wrong value for an error message. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (value === null || typeof value !== 'object') return String(value)
  try {
    return JSON.stringify(value) ?? 'an object'
  } catch {
    return 'an object'
  }
}
