import { StorageError, type StorageErrorCode } from '@engram/core'

/** What went wrong in a call, as the client reports it: an HTTP status with Qdrant's message, or a transport failure. */
interface HttpFailure {
  status: number
  message: string
}

/**
 * Maps whatever the Qdrant client threw to a `StorageError` whose code says what to do:
 * 404 is `NOT_FOUND`; 400 and 422 are `DIMENSION_MISMATCH` when Qdrant names a vector
 * dimension and `INVALID_ARGUMENT` otherwise; 401 and 403 are `CONNECTION_FAILED` with a hint
 * about the API key; 408 and client timeouts are `TIMEOUT`; 429 is `BUSY` (raised once the
 * retries are spent); every other status, 5xx included, is `QUERY_FAILED`; and an unreachable
 * server is `CONNECTION_FAILED`. The client's error is kept as `cause`.
 *
 * @param action what the store was doing, for the message ("upsert into Qdrant collection engram_docs")
 * @param url the server's address, named when it cannot be reached
 */
export function qdrantError(error: unknown, action: string, url: string): StorageError {
  if (error instanceof StorageError) return error
  const cause = { cause: error }
  const failure = httpFailure(error)
  if (failure) {
    const said = `Qdrant answered ${failure.status}${failure.message ? `: ${failure.message}` : ''}`
    const code = statusCode(failure)
    const hint = HINTS[code] ?? ''
    return new StorageError(code, `Could not ${action}. ${said}${hint}`, cause)
  }
  const name = error instanceof Error ? error.name : ''
  if (name === 'QdrantClientTimeoutError') {
    return new StorageError(
      'TIMEOUT',
      `Could not ${action}: Qdrant did not answer in time; raise \`timeout\` or check the server's load`,
      cause,
    )
  }
  if (name === 'QdrantClientResourceExhaustedError') {
    return new StorageError(
      'BUSY',
      `Could not ${action}: Qdrant is rate limiting requests (429)${HINTS.BUSY}`,
      cause,
    )
  }
  if (error instanceof TypeError || isSystemError(error)) {
    const reason = systemCode(error) ?? (error as Error).message
    return new StorageError(
      'CONNECTION_FAILED',
      `Could not ${action}: cannot reach Qdrant at ${url} (${reason}). Is it running, and is \`url\` right?`,
      cause,
    )
  }
  const message = error instanceof Error ? error.message : String(error)
  return new StorageError('QUERY_FAILED', `Could not ${action}: ${message}`, cause)
}

/** Whether the call was refused with 429 Too Many Requests, so it is worth trying again later. */
export function isRateLimited(error: unknown): boolean {
  if (error instanceof Error && error.name === 'QdrantClientResourceExhaustedError') return true
  return httpFailure(error)?.status === 429
}

/** The pause Qdrant asked for with `Retry-After`, in milliseconds, when it gave one. */
export function retryAfterMs(error: unknown): number | undefined {
  const seconds = (error as { retry_after?: unknown } | null)?.retry_after
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

/** Whether Qdrant refused the call because a collection with that name already exists (409). */
export function isConflict(error: unknown): boolean {
  return httpFailure(error)?.status === 409
}

/** Whether Qdrant answered 404 Not Found. */
export function isNotFound(error: unknown): boolean {
  return httpFailure(error)?.status === 404
}

const HINTS: Partial<Record<StorageErrorCode, string>> = {
  CONNECTION_FAILED:
    '. Qdrant needs a valid API key with write access: pass `apiKey` (for example from QDRANT_API_KEY) and check it on the server',
  BUSY: '; engram retried with backoff and gave up. Slow the writers down, raise `maxRetries`, or raise the server limit',
  QUERY_FAILED: '. Check the Qdrant server logs',
}

function statusCode({ status, message }: HttpFailure): StorageErrorCode {
  if (status === 404) return 'NOT_FOUND'
  if (status === 400 || status === 422) {
    return /vector dimension error/i.test(message) ? 'DIMENSION_MISMATCH' : 'INVALID_ARGUMENT'
  }
  if (status === 401 || status === 403) return 'CONNECTION_FAILED'
  if (status === 408) return 'TIMEOUT'
  if (status === 429) return 'BUSY'
  return 'QUERY_FAILED'
}

/** The status and Qdrant's `status.error` text of an HTTP error from the client, if it is one. */
function httpFailure(error: unknown): HttpFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { status, data, statusText } = error as { status?: unknown; data?: unknown; statusText?: unknown }
  if (typeof status !== 'number') return undefined
  const said = (data as { status?: { error?: unknown } } | null)?.status?.error
  const message =
    typeof said === 'string'
      ? said
      : typeof data === 'string' && data !== ''
        ? data
        : String(statusText ?? '')
  return { status, message: message.trim() }
}

function isSystemError(error: unknown): boolean {
  return systemCode(error) !== undefined
}

/** The errno code (`ECONNREFUSED`, `ENOTFOUND`, …) behind a failed fetch, if there is one. */
function systemCode(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
