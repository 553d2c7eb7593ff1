import { StorageError, type StorageErrorCode } from '@engram/core'

/** The text of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** `error` as it is when it is already a `StorageError`, otherwise wrapped with `code` and `what` in front. */
export function storageFailure(error: unknown, code: StorageErrorCode, what: string): StorageError {
  if (error instanceof StorageError) return error
  return new StorageError(code, `${what}: ${errorMessage(error)}`, { cause: error })
}

/** The portable code for a file-system error: a missing path is `NOT_FOUND`, a full or read-only disk says so. */
export function fileErrorCode(error: unknown): StorageErrorCode {
  switch ((error as { code?: string }).code) {
    case 'ENOENT':
      return 'NOT_FOUND'
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return 'READONLY'
    default:
      return 'PERSIST_FAILED'
  }
}
