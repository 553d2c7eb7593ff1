import { describe, expect, it } from 'vitest'
import { integerOption } from '../src/index.js'

describe('integerOption', () => {
  it('gives the fallback for undefined and the value for an integer in range', () => {
    expect(integerOption(undefined, 5, 'm')).toBe(5)
    expect(integerOption(0, 5, 'm', 0)).toBe(0)
  })

  it.each([
    [10n, 'm must be an integer of at least 1, got 10'],
    [1.5, 'm must be an integer of at least 1, got 1.5'],
    ['16', 'm must be an integer of at least 1, got "16"'],
    [0, 'm must be an integer of at least 1, got 0'],
  ])(
    'refuses %s with INVALID_ARGUMENT naming the option and the value (a bigint included)',
    (value, message) => {
      expect(() => integerOption(value, 5, 'm')).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message }),
      )
    },
  )
})
