import { createDatabase, type DatabaseOptions, type StorageAdapter, StorageError } from '@engram/core'
import { describeValue, isPlainObject } from './memory-input.js'

/**
 * Where a memory keeps its rows: a URL or file path (`'postgres://…'`, `'./data/memory.db'`),
 * `createDatabase` options, or a `StorageAdapter` that is already open. A memory closes the
 * database it opened from a URL or options; an adapter stays the caller's to close.
 */
export type StorageTarget = string | DatabaseOptions | StorageAdapter

/** Whether `value` is an open `StorageAdapter` rather than something `createDatabase` takes. */
export function isStorageAdapter(value: unknown): value is StorageAdapter {
  const adapter = value as Partial<StorageAdapter> | null
  return (
    typeof adapter === 'object' &&
    adapter !== null &&
    typeof adapter.transaction === 'function' &&
    typeof adapter.dialect === 'string'
  )
}

/**
 * Opens `target` with `createDatabase`, or takes the adapter as it is. `owned` is whether the
 * adapter was opened here, and so is the memory's to close.
 */
export async function openStorage(
  target: unknown,
  name: string,
): Promise<{ storage: StorageAdapter; owned: boolean }> {
  if (isStorageAdapter(target)) return { storage: target, owned: false }
  if ((typeof target !== 'string' || target.length === 0) && !isPlainObject(target)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${name} must be a database URL or file path, createDatabase options, or a StorageAdapter; got ${describeValue(target)}.${
        target === undefined ? ' If you passed process.env.DATABASE_URL, it is not set.' : ''
      }`,
    )
  }
  return { storage: await createDatabase(target as string | DatabaseOptions), owned: true }
}
