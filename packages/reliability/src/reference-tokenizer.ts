import type { SqlDialect } from '@engram/core'

/** What the reference tokenizer makes of a statement: the same fields `compileSql` returns. */
export interface ReferenceCompiled {
  /** The statement with placeholders in the driver's form (`?` on SQLite, `$n` on PostgreSQL). */
  readonly text: string
  /** `'none'`, `'positional'` (`?`) or `'named'` (`:name`). */
  readonly style: 'none' | 'positional' | 'named'
  /** Positional placeholders written. */
  readonly count: number
  /** Named style: the name bound to each driver slot, in slot order. */
  readonly slots: readonly string[]
  /** Named style: each distinct name once, in first-seen order. */
  readonly names: readonly string[]
}

/** Why the statement is refused, or what it compiles to. */
export type ReferenceResult = { readonly error: string } | { readonly compiled: ReferenceCompiled }

// Identifier characters as both languages define them: ASCII letters, digits, _, $, and every
// character outside ASCII (any byte of a multi-byte UTF-8 sequence counts as a letter).
const IDENT_START = /[A-Za-z_\u0080-\uFFFF]/
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uFFFF]/
const NAME = /[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*/y
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*)?\$/y
const PLAIN_STRING = /'(?:[^']|'')*'?/y
const ESCAPE_STRING = /'(?:[^'\\]|\\[\s\S]?|'')*'?/y
const QUOTED_IDENTIFIER = /"(?:[^"]|"")*"?/y
const BACKTICK_IDENTIFIER = /`(?:[^`]|``)*`?/y
const BRACKET_IDENTIFIER = /\[[^\]]*\]?/y
const LINE_COMMENT = /--[^\n]*\n?/y

function at(pattern: RegExp, sql: string, i: number): string | undefined {
  pattern.lastIndex = i
  return pattern.exec(sql)?.[0]
}

/**
 * A second, independent reading of engram's placeholder rules, written from the two SQL
 * dialects' lexical rules with sticky regular expressions rather than `compileSql`'s character
 * loop: placeholders are rewritten everywhere except inside string literals (`E'…'` with
 * backslash escapes on PostgreSQL), quoted identifiers (also `` `…` `` and `[…]` on SQLite),
 * `--` and `/* *\/` comments (nested on PostgreSQL), and dollar-quoted bodies (PostgreSQL).
 * `::` is a cast, `??` is PostgreSQL's escaped `?` operator, and `$1` or `?1` are refused.
 */
export function referenceCompile(sql: string, dialect: SqlDialect): ReferenceResult {
  const pg = dialect === 'postgres'
  let out = ''
  let count = 0
  const slots: string[] = []
  const names: string[] = []
  let i = 0
  const identBefore = (k: number): boolean => k > 0 && IDENT_PART.test(sql[k - 1] as string)
  while (i < sql.length) {
    const c = sql[i] as string
    const rest2 = sql.slice(i, i + 2)
    let skipped: string | undefined
    if (c === "'") {
      const escapes = pg && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !identBefore(i - 1)
      skipped = at(escapes ? ESCAPE_STRING : PLAIN_STRING, sql, i)
    } else if (c === '"') {
      skipped = at(QUOTED_IDENTIFIER, sql, i)
    } else if (!pg && c === '`') {
      skipped = at(BACKTICK_IDENTIFIER, sql, i)
    } else if (!pg && c === '[') {
      skipped = at(BRACKET_IDENTIFIER, sql, i)
    } else if (rest2 === '--') {
      skipped = at(LINE_COMMENT, sql, i)
    } else if (rest2 === '/*') {
      skipped = blockComment(sql, i, pg)
    } else if (pg && c === '$' && !identBefore(i)) {
      if (/[0-9]/.test(sql[i + 1] ?? '')) return { error: 'numbered $n parameter' }
      const tag = at(DOLLAR_TAG, sql, i)
      if (tag !== undefined) {
        const close = sql.indexOf(tag, i + tag.length)
        skipped = close < 0 ? sql.slice(i) : sql.slice(i, close + tag.length)
      }
    }
    if (skipped !== undefined) {
      out += skipped
      i += skipped.length
      continue
    }
    if (c === '?') {
      if (sql[i + 1] === '?') {
        if (!pg) return { error: '?? on SQLite' }
        out += '?'
        i += 2
        continue
      }
      if (/[0-9]/.test(sql[i + 1] ?? '')) return { error: 'numbered ?n parameter' }
      count++
      out += pg ? `$${count}` : '?'
      i++
      continue
    }
    if (rest2 === '::') {
      out += '::'
      i += 2
      continue
    }
    if (c === ':' && IDENT_START.test(sql[i + 1] ?? '') && !identBefore(i)) {
      const name = at(NAME, sql, i + 1) as string
      let slot = names.indexOf(name) + 1
      if (slot === 0) {
        names.push(name)
        slot = names.length
      }
      slots.push(name)
      out += pg ? `$${slot}` : '?'
      i += 1 + name.length
      continue
    }
    out += c
    i++
  }
  if (count > 0 && slots.length > 0) return { error: 'mixed ? and :name' }
  if (slots.length > 0)
    return { compiled: { text: out, style: 'named', count: 0, slots: pg ? names : slots, names } }
  return { compiled: { text: out, style: count > 0 ? 'positional' : 'none', count, slots: [], names: [] } }
}

/** The whole block comment starting at `start` (to the end when unclosed). */
function blockComment(sql: string, start: number, nested: boolean): string {
  let depth = 0
  let i = start
  while (i < sql.length) {
    const two = sql.slice(i, i + 2)
    if (two === '/*' && (nested || depth === 0)) {
      depth++
      i += 2
    } else if (two === '*/') {
      depth--
      i += 2
      if (depth === 0) return sql.slice(start, i)
    } else {
      i++
    }
  }
  return sql.slice(start)
}
