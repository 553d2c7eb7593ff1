import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The mark in the names of files being written; listings skip them and prune removes stale ones. */
export const PARTIAL_MARK = '.partial-'

/** A temporary name beside `path`, in the same folder so the final rename is atomic. */
export function partialPath(path: string): string {
  return join(dirname(path), `.${basename(path)}${PARTIAL_MARK}${randomBytes(4).toString('hex')}`)
}

/**
 * Fsyncs a folder, so a rename inside it survives a power cut. Folders cannot be opened on
 * Windows, where NTFS journals renames anyway, so failure to open one is not an error.
 */
export async function syncFolder(folder: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(folder, 'r')
  } catch {
    return
  }
  try {
    await handle.sync()
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw error
  } finally {
    await handle.close()
  }
}

/** Fsyncs a file's contents. */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Makes `path` hold what `write` puts into a temporary file beside it: the file is written,
 * fsynced, renamed over `path` and the folder fsynced, so a crash leaves the old file or the
 * new one, never a mix. On failure the temporary file is removed and `path` is untouched.
 */
export async function replaceFile(path: string, write: (temp: string) => Promise<void>): Promise<void> {
  const temp = partialPath(path)
  try {
    await write(temp)
    await syncFile(temp)
    await rename(temp, path)
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined)
    throw error
  }
  await syncFolder(dirname(path))
}
