import { describe, expect, it } from 'vitest'
import { pruneCommonTerms } from '../src/index.js'

describe('pruneCommonTerms', () => {
  const df = new Map([
    ['the', 900],
    ['for', 400],
    ['kiwi', 3],
    ['note', 350],
  ])

  it('drops terms found in more than the fraction of records, keeping query order', () => {
    expect(pruneCommonTerms(['the', 'kiwi', 'for'], df, 1000, 0.3)).toEqual(['kiwi'])
    expect(pruneCommonTerms(['for', 'the'], df, 1000, 0.5)).toEqual(['for'])
  })

  it('keeps the rarest term when every term is common', () => {
    expect(pruneCommonTerms(['the', 'note', 'for'], df, 1000, 0.3)).toEqual(['note'])
  })

  it('keeps unknown terms, which occur nowhere', () => {
    expect(pruneCommonTerms(['zyzzyva', 'the'], df, 1000, 0.3)).toEqual(['zyzzyva'])
    expect(pruneCommonTerms([], df, 1000, 0.3)).toEqual([])
  })
})
