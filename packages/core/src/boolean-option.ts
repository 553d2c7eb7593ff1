import { describeOptionValue } from './option-value.js'
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
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be true or false, got ${describeOptionValue(value)}`,
    )
  }
  return value
}
