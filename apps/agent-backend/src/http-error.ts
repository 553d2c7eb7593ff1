import { StorageError, type StorageErrorCode } from '@engram/core'

/** An error with the HTTP status and the JSON `{ error: { code, message } }` body it becomes. */
export class HttpError extends Error {
  /** The HTTP status code. */
  readonly status: number
  /** A short, stable code clients can switch on (`NOT_FOUND`, `INVALID_JSON`, a `StorageError` code, …). */
  readonly code: string
  /** Extra response headers, such as `Allow` on a 405. */
  readonly headers: Readonly<Record<string, string>>

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.headers = headers
  }
}

/**
 * The status each storage error code maps to. Codes a client can fix are 4xx; codes that mean
 * "try again later" are 503; anything else is a 500 whose message stays in the server log.
 */
const STATUS_OF: Partial<Record<StorageErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  UNIQUE_VIOLATION: 409,
  DIMENSION_MISMATCH: 422,
  CLOSED: 503,
  CONNECTION_FAILED: 503,
  BUSY: 503,
  TIMEOUT: 503,
}

/**
 * Turns anything thrown by a handler into an `HttpError`. Unmapped errors become a generic 500,
 * because their messages may carry SQL or driver details a client has no business seeing.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof StorageError) {
    const status = STATUS_OF[error.code]
    if (status !== undefined) return new HttpError(status, error.code, error.message)
    return new HttpError(500, error.code, 'The storage layer failed; see the server log')
  }
  return new HttpError(500, 'INTERNAL', 'Something went wrong; see the server log')
}
