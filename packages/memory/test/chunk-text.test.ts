import { describe, expect, it } from 'vitest'
import { chunkText } from '../src/chunk-text.js'

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ')

describe('chunkText', () => {
  it('returns one chunk for short text', () => {
    expect(chunkText('  hello world  ')).toEqual([{ text: 'hello world', index: 0, start: 2, end: 15 }])
  })

  it('keeps every chunk within chunkSize and covers the whole text', () => {
    const text = words(500)
    const chunks = chunkText(text, { chunkSize: 200, overlap: 40 })
    expect(chunks.length).toBeGreaterThan(10)
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(200)
    expect(chunks[0]?.start).toBe(0)
    expect(chunks.at(-1)?.end).toBe(text.length)
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]?.start).toBeLessThanOrEqual(chunks[i - 1]?.end as number)
    }
  })

  it('overlaps neighbouring chunks and never splits a word', () => {
    const chunks = chunkText(words(300), { chunkSize: 150, overlap: 50 })
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]?.text.split(' ') ?? []
      const current = chunks[i]?.text.split(' ') ?? []
      expect(previous).toContain(current[0])
      for (const w of current) expect(w).toMatch(/^word\d+$/)
    }
  })

  it('prefers to cut at a paragraph break', () => {
    const text = `${'a'.repeat(70)}.\n\n${'b'.repeat(70)}.`
    const chunks = chunkText(text, { chunkSize: 100, overlap: 0 })
    expect(chunks[0]?.text).toBe(`${'a'.repeat(70)}.`)
    expect(chunks[1]?.text).toBe(`${'b'.repeat(70)}.`)
  })

  it('cuts a word longer than chunkSize rather than looping', () => {
    const chunks = chunkText('x'.repeat(250), { chunkSize: 100, overlap: 10 })
    expect(chunks.map((c) => c.text.length)).toEqual([100, 100, 70])
  })

  it('rejects an overlap not smaller than chunkSize', () => {
    expect(() => chunkText('abc', { chunkSize: 10, overlap: 10 })).toThrow(/overlap/)
  })
})
