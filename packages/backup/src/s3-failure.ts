import { StorageError, type StorageErrorCode } from '@engram/core'
import { errorMessage } from './storage-failure.js'

/** What the AWS SDK puts on its errors. */
interface SdkError {
  name?: string
  code?: string
  $metadata?: { httpStatusCode?: number }
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
])
const CREDENTIALS = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
  'ExpiredToken',
  'InvalidToken',
])

/** Whether the SDK error says the object or key does not exist. */
export function isMissingObject(error: unknown): boolean {
  const e = error as SdkError
  return (
    e?.name === 'NoSuchKey' ||
    e?.name === 'NotFound' ||
    (e?.$metadata?.httpStatusCode === 404 && e?.name !== 'NoSuchBucket')
  )
}

/** A `StorageError` for a failed S3 call, with a code and a message that says what to check. */
export function s3Failure(error: unknown, what: string, where: string): StorageError {
  if (error instanceof StorageError) return error
  const e = (error ?? {}) as SdkError
  const status = e.$metadata?.httpStatusCode
  let code: StorageErrorCode = 'QUERY_FAILED'
  let hint = ''
  if (e.name === 'NoSuchBucket') {
    code = 'NOT_FOUND'
    hint = ': the bucket does not exist; create it first, or check the bucket name and region'
  } else if (isMissingObject(error)) {
    code = 'NOT_FOUND'
    hint = ': there is no such object'
  } else if (CREDENTIALS.has(e.name ?? '') || status === 403) {
    code = 'CONNECTION_FAILED'
    hint = `: ${errorMessage(error)}. Check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the client's) and that they may read and write the bucket`
  } else if (NETWORK.has(e.code ?? '') || NETWORK.has(e.name ?? '') || e.name === 'TimeoutError') {
    code = 'CONNECTION_FAILED'
    hint = `: ${errorMessage(error)}. Check the endpoint URL and that the service is reachable`
  } else {
    hint = `: ${errorMessage(error)}${status === undefined ? '' : ` (HTTP ${status})`}`
  }
  return new StorageError(code, `Could not ${what} in ${where}${hint}`, { cause: error })
}
