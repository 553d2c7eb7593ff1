import { installCommand, StorageError } from '@engram/core'

/**
 * Imports an optional peer dependency when it is first needed. A missing package is
 * `DRIVER_NOT_INSTALLED` naming the install command for the package manager in use.
 */
export async function importOptional<T>(specifier: string, neededFor: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as T
  } catch (error) {
    const code = (error as { code?: string }).code
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String((error as Error).message).includes(specifier)
    throw new StorageError(
      'DRIVER_NOT_INSTALLED',
      missing
        ? `${neededFor} needs ${specifier}, which is not installed; add it with "${installCommand(specifier)}"`
        : `${specifier} could not be loaded: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
