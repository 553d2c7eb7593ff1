import { type StorageErrorCode, sqliteErrorCode } from '@engram/core'

/**
 * Maps a rejection of @capacitor-community/sqlite to a portable code. The plugin rejects with an
 * `Error` (or, from its JS wrapper, a plain string) whose message wraps SQLite's own message,
 * sometimes with the extended result code in it (`… (code 2067 SQLITE_CONSTRAINT_UNIQUE)` on
 * Android), so the code is read from the text and core's SQLite mapping does the rest.
 */
export function capacitorErrorCode(error: unknown): StorageErrorCode {
  const message = errorMessage(error)
  if (/read-only mode/i.test(message)) return 'READONLY'
  if (/No available connection|not opened|Connection \S+ does not exist/i.test(message))
    return 'CONNECTION_FAILED'
  const code = /\bSQLITE_[A-Z_]+\b/.exec(message)?.[0]
  return sqliteErrorCode({ code, message })
}

/** The text of a plugin rejection, whether it is an `Error` or a string. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message)
  return String(error)
}
