import { StorageError } from '@engram/core'

/** The error for a restore that would replace data the target holds, without `replace: true`. */
export function holdsData(kind: string, tables?: readonly string[]): StorageError {
  const which = tables === undefined ? 'tables' : `tables of the backup (${tables.join(', ')})`
  return new StorageError(
    'INVALID_ARGUMENT',
    `The target ${kind} database already holds ${which}; pass replace: true (--replace) to replace them with the backup's. Nothing was changed`,
  )
}
