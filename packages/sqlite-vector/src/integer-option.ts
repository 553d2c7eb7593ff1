import { StorageError } from '@engram/core'

/**
 * Reads an integer option: `fallback` when it is left out, otherwise a whole number of at least
 * `min`, or an `INVALID_ARGUMENT` error that names the option.
 */
export function integerOption(value: unknown, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const range = min === 0 ? 'a whole number (0 or more)' : `an integer of at least ${min}`
    throw new StorageError('INVALID_ARGUMENT', `${name} must be ${range}, got ${String(value)}`)
  }
  return value
}
