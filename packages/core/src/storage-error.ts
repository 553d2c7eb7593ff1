/** The portable error codes every driver maps its native errors to. */
export type StorageErrorCode =
  | 'UNIQUE_VIOLATION'
  | 'FOREIGN_KEY_VIOLATION'
  | 'NOT_NULL_VIOLATION'
  | 'CHECK_VIOLATION'
  | 'SYNTAX_ERROR'
  | 'NOT_FOUND'
  | 'BUSY'
  | 'READONLY'
  | 'SERIALIZATION_FAILURE'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'INVALID_ARGUMENT'
  | 'DRIVER_NOT_INSTALLED'
  | 'CONNECTION_FAILED'
  | 'UNSUPPORTED'
  | 'DIMENSION_MISMATCH'
  | 'QUERY_FAILED'
  | 'PERSIST_FAILED'

/** Extra context attached to a `StorageError`. */
export interface StorageErrorDetails {
  /** The driver's own error, kept for debugging. */
  cause?: unknown
  /** The SQL text that failed, when there was one. */
  sql?: string
}

/** The one error type engram throws; `code` is portable across drivers, `cause` is the driver's error. */
export class StorageError extends Error {
  /** The portable error code. */
  readonly code: StorageErrorCode
  /** The SQL text that failed, when there was one. */
  readonly sql?: string

  constructor(code: StorageErrorCode, message: string, details: StorageErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'StorageError'
    this.code = code
    if (details.sql !== undefined) this.sql = details.sql
  }
}

/** Tells whether `error` is a `StorageError`, optionally with the given code. */
export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code)
}

/** Throws an `INVALID_ARGUMENT` error with `message`. */
export function invalidArgument(message: string): never {
  throw new StorageError('INVALID_ARGUMENT', message)
}
