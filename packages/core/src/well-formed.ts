import { StorageError } from './storage-error.js'

// In a `u` regex a surrogate pair is one code point above U+FFFF, so this class matches only lone halves.
const LONE_SURROGATE_OR_NUL = /[\uD800-\uDFFF\0]/u

/**
 * Whether `text` is well-formed Unicode without NUL: no lone UTF-16 surrogate (UTF-8 cannot
 * encode one, so drivers replace it with U+FFFD and two different strings would collide) and
 * no U+0000 (PostgreSQL's text and JSONB cannot hold it).
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE_OR_NUL.test(text)
}

/** Throws `INVALID_ARGUMENT` unless `text` is well-formed Unicode without NUL; `what` names it in the message. */
export function checkWellFormed(text: string, what: string): string {
  if (!LONE_SURROGATE_OR_NUL.test(text)) return text
  const match = LONE_SURROGATE_OR_NUL.exec(text) as RegExpExecArray
  const found = match[0] === '\0' ? 'a NUL character' : 'a lone UTF-16 surrogate'
  throw new StorageError(
    'INVALID_ARGUMENT',
    `${what} holds ${found} at index ${match.index}; ids, names and text must be well-formed Unicode without NUL`,
  )
}
