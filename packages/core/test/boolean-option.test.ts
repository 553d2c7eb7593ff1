import { describe, expect, it } from 'vitest'
import { booleanOption, StorageError } from '../src/index.js'

describe('booleanOption', () => {
  it('gives the fallback for undefined and the value for a boolean', () => {
    expect(booleanOption(undefined, true, 'wal')).toBe(true)
    expect(booleanOption(undefined, false, 'wal')).toBe(false)
    expect(booleanOption(false, true, 'wal')).toBe(false)
    expect(booleanOption(true, false, 'wal')).toBe(true)
  })

  it.each([
    ['false', '"false"'],
    [0, '0'],
    [1, '1'],
    [null, 'null'],
    [10n, '10'],
    [{ on: true }, '{"on":true}'],
    [() => true, 'a function'],
  ])('refuses %s with INVALID_ARGUMENT naming the option and the value', (value, shown) => {
    let caught: unknown
    try {
      booleanOption(value, false, 'readonly')
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(StorageError)
    expect((caught as StorageError).code).toBe('INVALID_ARGUMENT')
    expect((caught as StorageError).message).toBe(`readonly must be true or false, got ${shown}`)
  })
})
