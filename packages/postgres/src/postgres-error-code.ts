import type { StorageErrorCode } from '@engram/core'

// SQLSTATEs with a portable meaning; see https://www.postgresql.org/docs/current/errcodes-appendix.html
const BY_SQLSTATE: Readonly<Record<string, StorageErrorCode>> = {
  '23505': 'UNIQUE_VIOLATION',
  '23503': 'FOREIGN_KEY_VIOLATION',
  '23502': 'NOT_NULL_VIOLATION',
  '23514': 'CHECK_VIOLATION',
  '42601': 'SYNTAX_ERROR',
  '42P01': 'NOT_FOUND',
  '42703': 'NOT_FOUND',
  '42883': 'NOT_FOUND',
  '42704': 'NOT_FOUND',
  '3F000': 'NOT_FOUND',
  '40001': 'SERIALIZATION_FAILURE',
  '40P01': 'SERIALIZATION_FAILURE',
  '57014': 'TIMEOUT',
  '25006': 'READONLY',
  '55P03': 'BUSY',
  '3D000': 'CONNECTION_FAILED',
  '57P01': 'CONNECTION_FAILED',
  '57P02': 'CONNECTION_FAILED',
  '57P03': 'CONNECTION_FAILED',
  '53300': 'CONNECTION_FAILED',
}

// Node socket errors and pg's own messages for a lost or unreachable server.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'ENOENT', // a Unix socket path that does not exist
])
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|server does not support SSL|self[- ]signed certificate|unable to verify|certificate/i

/** Maps a `pg` error to a portable code: by SQLSTATE for server errors, by socket code for network errors. */
export function postgresErrorCode(error: unknown): StorageErrorCode {
  const code = String((error as { code?: unknown })?.code ?? '')
  const mapped = BY_SQLSTATE[code]
  if (mapped !== undefined) return mapped
  if (code.startsWith('08') || code.startsWith('28') || NETWORK_CODES.has(code)) return 'CONNECTION_FAILED'
  if (code === '' && CONNECTION_MESSAGES.test(String((error as { message?: unknown })?.message ?? ''))) {
    return 'CONNECTION_FAILED'
  }
  return 'QUERY_FAILED'
}

/** Whether the error means the connection itself is broken, so the client must not go back to the pool. */
export function isConnectionLevelError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  // Server errors carry a five-character SQLSTATE and leave the connection usable (unless it is class 08/57P0x).
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code))
    return postgresErrorCode(error) === 'CONNECTION_FAILED'
  return true
}
