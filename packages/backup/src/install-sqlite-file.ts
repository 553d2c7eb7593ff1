import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { StorageError } from '@engram/core'
import type { BackupManifest } from './backup-manifest.js'
import { partialPath, syncFile, syncFolder } from './durable-file.js'
import { errorMessage, fileErrorCode } from './storage-failure.js'

const SQLITE_HEADER = 'SQLite format 3\0'

/**
 * Puts a backup's SQLite image at `path`: `write` fills a file beside it (and checks it against
 * the manifest), which is then checked for a SQLite header, fsynced, and renamed over `path`, so
 * a failure at any step leaves the old file as it was. Nothing may have `path` open meanwhile
 * (see `refuseOpenFile`).
 */
export async function installSqliteFile(
  path: string,
  manifest: BackupManifest,
  write: (staged: string) => Promise<unknown>,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true }).catch((error: unknown) => {
    throw new StorageError(
      fileErrorCode(error),
      `Could not create the folder of ${path}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    )
  })
  const staged = partialPath(path)
  try {
    await write(staged)
    if (manifest.contentSize > 0) await checkHeader(staged, manifest.id)
    await syncFile(staged)
    await rename(staged, path)
  } catch (error) {
    await rm(staged, { force: true }).catch(() => undefined)
    if (error instanceof StorageError) throw error
    throw new StorageError(
      fileErrorCode(error),
      `Could not write the restored database to ${path}: ${errorMessage(error)}; the old file is unchanged`,
      { cause: error },
    )
  }
  await syncFolder(dirname(path))
  // Empty leftovers of the old file's last session; SQLite recreates them as needed.
  await rm(`${path}-wal`, { force: true }).catch(() => undefined)
  await rm(`${path}-shm`, { force: true }).catch(() => undefined)
}

/**
 * Refuses a SQLite file that looks open (or was left mid-write): replacing it would leave its
 * `-wal` or hot `-journal` to be applied to the new file, corrupting it. `BUSY`, nothing changed.
 */
export async function refuseOpenFile(path: string): Promise<void> {
  for (const suffix of ['-wal', '-journal']) {
    const side = await stat(`${path}${suffix}`).catch(() => undefined)
    if (side !== undefined && side.size > 0) {
      throw new StorageError(
        'BUSY',
        `${path} looks open or was not closed cleanly (${path}${suffix} holds ${side.size} bytes). Close every connection to it (opening and closing it once settles an unclean one), then restore again; nothing was changed`,
      )
    }
  }
}

/** Refuses content whose length or sha256 differs from the manifest's. */
export function checkContent(content: { size: number; sha256: string }, manifest: BackupManifest): void {
  if (content.size !== manifest.contentSize || content.sha256 !== manifest.contentSha256) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Backup ${manifest.id} is corrupt: its content is ${content.size} bytes with sha256 ${content.sha256}, but the manifest says ${manifest.contentSize} bytes with sha256 ${manifest.contentSha256}. Nothing was changed; restore another backup`,
    )
  }
}

async function checkHeader(path: string, id: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    const header = Buffer.alloc(16)
    await handle.read(header, 0, 16, 0)
    if (header.toString('latin1') !== SQLITE_HEADER) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `Backup ${id} does not hold a SQLite database (its header is wrong). Nothing was changed; restore another backup`,
      )
    }
  } finally {
    await handle.close()
  }
}
