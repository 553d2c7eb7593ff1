import { StorageError, type StorageErrorCode } from '@engram/core'

/** Strings that have broken storage layers: injection, broken Unicode, invisible text, huge text, prototype keys, paths. */
export const HOSTILE_STRINGS: ReadonlyArray<readonly [label: string, value: string]> = [
  ['SQL injection with a quote', "x'); DROP TABLE t; --"],
  ['SQL injection with double quotes', '" OR ""="'],
  ['comment markers', '/* */ -- ;'],
  ['placeholder lookalikes', '? ?? :name $1 $$ $tag$'],
  ['LIKE wildcards and a backslash', '%_\\'],
  ['JSON path syntax', '$.a[0]."b"'],
  ['lone high surrogate', 'T\uD800'],
  ['lone low surrogate', '\uDFFFx'],
  ['high surrogate at the end', 'T\uDBFF'],
  ['replacement character', 'T\uFFFD'],
  ['NUL', 'a\u0000b'],
  ['right-to-left override', '\u202Eevil\u202C'],
  ['zero-width characters', 'a\u200B\u200C\u200Db\uFEFF'],
  ['combining marks', 'e\u0301\u0301\u0301'],
  ['emoji with a joiner', '\u{1F469}\u200D\u{1F4BB}'],
  ['control characters', 'a\n\r\t\u0007\u001Bb'],
  ['64 KB of ASCII', 'x'.repeat(65_536)],
  ['64 KB of astral characters', '\u{1F600}'.repeat(16_384)],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['prototype', 'prototype'],
  ['hasOwnProperty', 'hasOwnProperty'],
  ['path traversal', '../../etc/passwd'],
  ['Windows path traversal', '..\\..\\boot.ini'],
  ['absolute path', '/etc/shadow'],
  ['reserved device name', 'CON'],
  ['empty string', ''],
  ['only spaces', '   '],
]

/** Text that full-text query parsers treat as syntax (FTS5 and tsquery operators, quotes, prefixes). */
export const FTS_SYNTAX: readonly string[] = [
  '"unbalanced',
  'NEAR(a b)',
  'a AND OR NOT',
  '*',
  '^start',
  'col:term',
  '-minus',
  '( ) ( (',
  "'; DROP",
  'a & | ! <-> b',
  ':*',
  '""',
]

/** Numbers at the edges: the largest doubles, beyond 2^53, subnormal, negative zero, and not finite. */
export const HOSTILE_NUMBERS: ReadonlyArray<readonly [label: string, value: number]> = [
  ['1e308', 1e308],
  ['-1.79e308', -1.79e308],
  ['2^53 + 2', Number.MAX_SAFE_INTEGER + 3],
  ['2^63', 2 ** 63],
  ['smallest subnormal', 5e-324],
  ['negative zero', -0],
  ['8640000000000001 (past the Date range)', 8_640_000_000_000_001],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
]

/** How one hostile call ended: accepted (with its value), or refused with a `StorageError`. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: StorageError }

/**
 * Runs a call with hostile input. A refusal must be a `StorageError` with one of `allowed`
 * (`INVALID_ARGUMENT` unless said otherwise); anything else (a `TypeError`, a `RangeError`, a
 * `QUERY_FAILED` from the database) fails the test with `what` in the message.
 */
export async function attempt<T>(
  what: string,
  call: () => T | Promise<T>,
  allowed: readonly StorageErrorCode[] = ['INVALID_ARGUMENT'],
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call() }
  } catch (error) {
    if (!(error instanceof StorageError)) {
      throw new Error(
        `${what}: threw ${(error as Error)?.constructor?.name} instead of a StorageError: ${(error as Error)?.message}`,
        {
          cause: error,
        },
      )
    }
    if (!allowed.includes(error.code)) {
      throw new Error(
        `${what}: refused with ${error.code} instead of ${allowed.join(' or ')}: ${error.message}`,
        {
          cause: error,
        },
      )
    }
    return { ok: false, error }
  }
}

/** Counts accepted and refused hostile calls, for the figures. */
export class Tally {
  accepted = 0
  refused = 0

  /** Records an outcome and returns it. */
  add<T>(outcome: Outcome<T>): Outcome<T> {
    if (outcome.ok) this.accepted++
    else this.refused++
    return outcome
  }
}

/** A short printable label for a hostile value in failure messages. */
export function shown(value: string): string {
  return value.length > 40
    ? `${JSON.stringify(value.slice(0, 20))}… (${value.length} chars)`
    : JSON.stringify(value)
}
