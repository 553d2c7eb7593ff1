import { StorageError, type StorageErrorCode } from '@engram/core'

const HEADER = 'SQLite format 3\0'

/**
 * Checks that `image` starts like a SQLite database file and returns a copy sql.js can open.
 * `source` names the image in error messages ("data", "the file x.db"); `code` is the error's
 * code. An empty image is an empty database, as SQLite treats an empty file.
 */
export function prepareImage(image: unknown, source: string, code: StorageErrorCode): Uint8Array {
  if (!(image instanceof Uint8Array)) {
    throw new StorageError(code, `${source} must be a Uint8Array holding a SQLite database file`)
  }
  if (image.byteLength === 0) return new Uint8Array(0)
  if (image.byteLength < 100 || !startsWithHeader(image)) {
    throw new StorageError(
      code,
      `${source} is not a SQLite database: it does not start with the "SQLite format 3" header. Pass the bytes of a .sqlite/.db file or of export()`,
    )
  }
  const copy = image.slice()
  // A WAL-mode file (bytes 18-19 = 2) would make SQLite look for a -wal file and shared memory,
  // which sql.js's in-memory file system cannot provide; the image alone is a complete database
  // in rollback-journal form, so mark it as one.
  if (copy[18] === 2) copy[18] = 1
  if (copy[19] === 2) copy[19] = 1
  return copy
}

function startsWithHeader(image: Uint8Array): boolean {
  for (let i = 0; i < HEADER.length; i++) if (image[i] !== HEADER.charCodeAt(i)) return false
  return true
}
