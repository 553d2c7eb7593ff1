import type { StorageErrorCode } from './storage-error.js'

/**
 * Maps a SQLite error (from any SQLite driver) to a portable code, using the extended
 * result code when the driver gives one and the message otherwise.
 */
export function sqliteErrorCode(error: unknown): StorageErrorCode {
  const code = String((error as { code?: unknown })?.code ?? '')
  const message = String((error as { message?: unknown })?.message ?? error)
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return 'UNIQUE_VIOLATION'
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'FOREIGN_KEY_VIOLATION'
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') return 'NOT_NULL_VIOLATION'
  if (code === 'SQLITE_CONSTRAINT_CHECK') return 'CHECK_VIOLATION'
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'BUSY'
  if (code.startsWith('SQLITE_READONLY')) return 'READONLY'
  if (code.startsWith('SQLITE_CANTOPEN')) return 'CONNECTION_FAILED'
  if (/UNIQUE constraint failed/i.test(message)) return 'UNIQUE_VIOLATION'
  if (/FOREIGN KEY constraint failed/i.test(message)) return 'FOREIGN_KEY_VIOLATION'
  if (/NOT NULL constraint failed/i.test(message)) return 'NOT_NULL_VIOLATION'
  if (/CHECK constraint failed/i.test(message)) return 'CHECK_VIOLATION'
  if (/database is locked|database table is locked/i.test(message)) return 'BUSY'
  if (/readonly database/i.test(message)) return 'READONLY'
  if (/syntax error|incomplete input|unrecognized token/i.test(message)) return 'SYNTAX_ERROR'
  if (/no such (table|column|function|index|view|collation)/i.test(message)) return 'NOT_FOUND'
  return 'QUERY_FAILED'
}
