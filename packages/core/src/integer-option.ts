import { describeOptionValue } from './option-value.js'
import { StorageError } from './storage-error.js'

/**
 * Reads an optional integer setting: `fallback` when it is `undefined`, the value when it is an
 * integer of at least `min`, and an `INVALID_ARGUMENT` naming the option otherwise.
 *
 * @example
 * const efSearch = integerOption(config.efSearch, HNSW_DEFAULTS.efSearch, 'efSearch')
 */
export function integerOption(value: unknown, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const range = min === 0 ? 'a whole number (0 or more)' : `an integer of at least ${min}`
    throw new StorageError('INVALID_ARGUMENT', `${name} must be ${range}, got ${describeOptionValue(value)}`)
  }
  return value
}
