import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pathToFileURL } from 'node:url'
import { StorageError } from '@engram/core'
import type {
  BackupDestination,
  FetchedObject,
  ObjectMetadata,
  StoredObject,
  TransferProgress,
} from './backup-destination.js'
import { PARTIAL_MARK, replaceFile } from './durable-file.js'
import { errorMessage, fileErrorCode } from './storage-failure.js'

/** Object names a folder accepts: one plain file name, no folders, not hidden. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,250}$/

/**
 * Backups in a local folder (created when missing). Each object is written to a temporary file
 * beside its final name, fsynced, renamed into place and the folder fsynced, so a crash never
 * leaves a partial file under a backup's name. A folder keeps no metadata beside a file: the
 * checksums live in each backup's manifest.
 *
 * @example
 * const destination = folderDestination('/var/backups/agent')
 */
export function folderDestination(path: string): BackupDestination {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new StorageError('INVALID_ARGUMENT', 'folderDestination needs the path of a folder')
  }
  return new FolderDestination(resolve(path))
}

class FolderDestination implements BackupDestination {
  readonly description: string
  readonly #folder: string
  #ready: Promise<void> | undefined

  constructor(folder: string) {
    this.#folder = folder
    this.description = pathToFileURL(`${folder}/`).href
  }

  async put(
    name: string,
    source: string | Uint8Array,
    _metadata: ObjectMetadata,
    onProgress?: TransferProgress,
  ): Promise<void> {
    const target = this.#path(name)
    await this.#prepare()
    try {
      await replaceFile(target, async (temp) => {
        if (typeof source === 'string') await copyFile(source, temp, onProgress)
        else await writeFile(temp, source)
      })
    } catch (error) {
      throw new StorageError(
        fileErrorCode(error),
        `Could not write ${name} in ${this.#folder}: ${errorMessage(error)}. Check that the folder is writable and the disk has room`,
        { cause: error },
      )
    }
  }

  async get(name: string): Promise<FetchedObject> {
    const source = this.#path(name)
    try {
      const info = await stat(source)
      return { body: createReadStream(source, { highWaterMark: 1024 * 1024 }), size: info.size, metadata: {} }
    } catch (error) {
      const code = fileErrorCode(error)
      throw new StorageError(
        code,
        code === 'NOT_FOUND'
          ? `${name} is not in ${this.#folder}`
          : `Could not read ${name} from ${this.#folder}: ${errorMessage(error)}`,
        { cause: error },
      )
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.#path(name)))
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined
      throw new StorageError(
        fileErrorCode(error),
        `Could not read ${name} from ${this.#folder}: ${errorMessage(error)}`,
        {
          cause: error,
        },
      )
    }
  }

  async *list(): AsyncIterable<StoredObject> {
    let names: string[]
    try {
      names = await readdir(this.#folder)
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return
      throw new StorageError(fileErrorCode(error), `Could not list ${this.#folder}: ${errorMessage(error)}`, {
        cause: error,
      })
    }
    for (const name of names.sort()) {
      if (!NAME.test(name)) continue
      const info = await stat(join(this.#folder, name)).catch(() => undefined)
      if (info?.isFile()) yield { name, size: info.size }
    }
  }

  async delete(names: readonly string[]): Promise<void> {
    for (const name of names) {
      try {
        await rm(this.#path(name), { force: true })
      } catch (error) {
        throw new StorageError(
          fileErrorCode(error),
          `Could not delete ${name} in ${this.#folder}: ${errorMessage(error)}`,
          {
            cause: error,
          },
        )
      }
    }
  }

  /** Temporary files a killed writer left start with a dot; `list()` never shows them. */
  async sweep(olderThan: Date): Promise<void> {
    const names = await readdir(this.#folder).catch(() => [] as string[])
    for (const name of names) {
      if (!name.startsWith('.') || !name.includes(PARTIAL_MARK)) continue
      const path = join(this.#folder, name)
      const info = await stat(path).catch(() => undefined)
      if (info !== undefined && info.mtime < olderThan) await rm(path, { force: true }).catch(() => undefined)
    }
  }

  #path(name: string): string {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `${JSON.stringify(name)} is not an object name a folder destination accepts (letters, digits, _ . -; not starting with a dot)`,
      )
    }
    return join(this.#folder, name)
  }

  #prepare(): Promise<void> {
    this.#ready ??= mkdir(this.#folder, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined
        throw new StorageError(
          fileErrorCode(error),
          `Could not create ${this.#folder}: ${errorMessage(error)}`,
          {
            cause: error,
          },
        )
      },
    )
    return this.#ready
  }
}

/** Copies a file as a stream, reporting progress; returns the bytes copied. */
async function copyFile(from: string, to: string, onProgress?: TransferProgress): Promise<number> {
  const total = (await stat(from)).size
  let copied = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      copied += chunk.length
      onProgress?.(copied, total)
      done(null, chunk)
    },
  })
  await pipeline(createReadStream(from), counter, createWriteStream(to))
  return copied
}
