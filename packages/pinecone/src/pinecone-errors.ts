import { isStorageError, StorageError } from '@engram/core'

/** How the store waits out Pinecone's rate limit (HTTP 429). */
export interface RateLimitPolicy {
  /** Retries after a 429 before giving up with `BUSY`. */
  readonly retries: number
  /** The first wait in milliseconds; each retry doubles it, up to 30 seconds. */
  readonly backoffMs: number
}

const MAX_BACKOFF_MS = 30_000
const STATUS = /Status: (\d{3})\b/

/** The HTTP status behind a client error, where the client keeps it. */
export function statusOf(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined
  switch (error.name) {
    case 'PineconeBadRequestError':
      return 400
    case 'PineconeAuthorizationError':
      return 401
    case 'PineconeNotFoundError':
      return 404
    case 'PineconeConflictError':
      return 409
    case 'PineconeInternalServerError':
      return 500
    case 'PineconeUnavailableError':
      return 503
    case 'PineconeUnmappedHttpError': {
      // The client keeps unmapped statuses (429 among them) only in its message.
      const match = STATUS.exec(error.message)
      return match ? Number(match[1]) : undefined
    }
    default:
      return undefined
  }
}

/** Whether an error is Pinecone's 404. */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404
}

/**
 * Runs one client call, retrying it after HTTP 429 with exponential backoff (every call the store
 * makes is idempotent, so a retry is safe), and turns the client's errors into `StorageError`s.
 * `what` names the call in messages.
 */
export async function callPinecone<T>(
  what: string,
  policy: RateLimitPolicy,
  call: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call()
    } catch (error) {
      if (statusOf(error) !== 429 || attempt >= policy.retries) throw toStorageError(what, error, attempt)
      const wait = Math.min(MAX_BACKOFF_MS, policy.backoffMs * 2 ** attempt)
      // Jitter spreads the retries of concurrent callers so they do not hit the limit together.
      await new Promise((resolve) => setTimeout(resolve, wait * (0.75 + Math.random() * 0.5)))
    }
  }
}

/** Maps a client error to a `StorageError` with a portable code and a message that says what to do. */
export function toStorageError(what: string, error: unknown, retries = 0): StorageError {
  if (isStorageError(error)) return error
  const detail = error instanceof Error ? error.message : String(error)
  const cause = { cause: error }
  const name = error instanceof Error ? error.name : ''
  const status = statusOf(error)
  if (status === 429) {
    return new StorageError(
      'BUSY',
      `Pinecone rate-limited ${what} (HTTP 429) and was still limiting after ${retries} retries; slow down, retry later or raise rateLimitRetries. Pinecone said: ${detail}`,
      cause,
    )
  }
  if (status === 401) {
    return new StorageError(
      'CONNECTION_FAILED',
      `Pinecone rejected the API key during ${what} (HTTP 401); check apiKey (or PINECONE_API_KEY) and that the key belongs to the index's project`,
      cause,
    )
  }
  if (status === 400 || status === 422) {
    return new StorageError('INVALID_ARGUMENT', `Pinecone refused ${what}: ${detail}`, cause)
  }
  if (status === 404)
    return new StorageError('NOT_FOUND', `Pinecone found nothing for ${what}: ${detail}`, cause)
  if (name === 'PineconeMaxRetriesExceededError' || (status !== undefined && status >= 500)) {
    return new StorageError(
      'BUSY',
      `Pinecone answered ${what} with server errors${status === undefined ? ' on every retry' : ` (HTTP ${status})`}; it may be overloaded or having an outage (https://status.pinecone.io), so retry later. ${detail}`,
      cause,
    )
  }
  if (name === 'PineconeConnectionError') {
    return new StorageError(
      'CONNECTION_FAILED',
      `Could not reach Pinecone for ${what}; check the network, indexHost and controllerHostUrl. ${detail}`,
      cause,
    )
  }
  if (name === 'PineconeArgumentError')
    return new StorageError('INVALID_ARGUMENT', `${what}: ${detail}`, cause)
  return new StorageError('QUERY_FAILED', `Pinecone failed during ${what}: ${detail}`, cause)
}
