import { hash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeValue, encodeValue, TableChecksum } from '../src/index.js'
import { canonicalValue } from '../src/table-checksum.js'

const sum = (rows: unknown[][], json?: boolean[]) => {
  const checksum = new TableChecksum()
  for (const row of rows) checksum.add(row, json)
  return checksum.hex
}

describe('TableChecksum', () => {
  it('does not depend on row order', () => {
    const rows = [
      [1, 'a', null],
      [2, 'b', new Uint8Array([1, 2])],
      [3, 'c', 2.5],
    ]
    expect(sum(rows)).toBe(sum([...rows].reverse()))
  })

  it('changes for a changed, missing, extra or duplicated row', () => {
    const base = sum([
      [1, 'a'],
      [2, 'b'],
    ])
    expect(
      sum([
        [1, 'a'],
        [2, 'B'],
      ]),
    ).not.toBe(base)
    expect(sum([[1, 'a']])).not.toBe(base)
    expect(
      sum([
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
      ]),
    ).not.toBe(base)
    expect(
      sum([
        [1, 'a'],
        [1, 'a'],
        [2, 'b'],
      ]),
    ).not.toBe(base)
  })

  it('is the sum modulo 2^128 of the first 128 bits of each row digest, carries and wrap-around included', () => {
    // Rows whose digests start with high bits, so the limbs carry and the total wraps past 2^128.
    const rows = Array.from({ length: 5000 }, (_, i) => [i, `row ${i}`, i % 7 === 0 ? null : i / 3])
    let reference = 0n
    for (const row of rows) {
      const digest = hash('sha256', row.map((value) => canonicalValue(value)).join(''), 'hex')
      reference = (reference + BigInt(`0x${digest.slice(0, 32)}`)) % 2n ** 128n
    }
    expect(sum(rows)).toBe(reference.toString(16).padStart(32, '0'))
    expect(sum([])).toBe('0'.repeat(32))
  })

  it('cannot be fooled by values that run into each other', () => {
    expect(sum([['ab', 'c']])).not.toBe(sum([['a', 'bc']]))
    expect(sum([[12, 3]])).not.toBe(sum([[1, 23]]))
    expect(sum([['1']])).not.toBe(sum([[1]]))
    expect(sum([[null]])).not.toBe(sum([['n']]))
  })

  it('maps values the same on both dialects: booleans and 1/0, integers as numbers or bigints, JSON by content', () => {
    expect(sum([[true, false]])).toBe(sum([[1, 0]]))
    expect(sum([[2n ** 40n]])).toBe(sum([[2 ** 40]]))
    expect(sum([['{"b": 1, "a": [1, 2]}']], [true])).toBe(sum([['{"a":[1,2],"b":1}']], [true]))
    expect(sum([[7]], [true])).toBe(sum([['7']], [true]))
    expect(sum([['{"b": 1, "a": 2}']])).not.toBe(sum([['{"a":2,"b":1}']]))
  })
})

describe('the export value codec', () => {
  it('round-trips every value kind exactly', () => {
    const values = [
      null,
      'text',
      '',
      0,
      -1.5,
      2 ** 53 - 1,
      2n ** 63n - 1n,
      -(2n ** 63n),
      true,
      Infinity,
      -Infinity,
      -0,
      new Uint8Array([0, 255, 7]),
    ]
    const decoded = values.map((v) => decodeValue(JSON.parse(JSON.stringify(encodeValue(v)))))
    expect(decoded).toEqual(values)
    expect(Object.is(decoded[11], -0)).toBe(true)
    expect(Number.isNaN(decodeValue(encodeValue(Number.NaN)))).toBe(true)
  })

  it('rejects what it did not write', () => {
    expect(() => decodeValue({ $unknown: 1 })).toThrow(/not a value of the engram export format/)
    expect(() => decodeValue({ $int: '12x' })).toThrow(/not a value/)
  })
})
