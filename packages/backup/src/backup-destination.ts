/** Metadata stored beside an object (S3 user metadata); keys are lower-case. */
export type ObjectMetadata = Readonly<Record<string, string>>

/** One object a destination holds, as its listing reports it. */
export interface StoredObject {
  /** The object's name inside the destination (without the destination's prefix). */
  readonly name: string
  /** Its size in bytes. */
  readonly size: number
}

/** An object opened by `get`: its bytes as a stream, its size and its metadata (`{}` where the destination keeps none). */
export interface FetchedObject {
  /** The object's bytes; read it to the end (or destroy it) to release the file or connection. */
  readonly body: AsyncIterable<Uint8Array>
  /** The size the destination reports, when it reports one. */
  readonly size: number | undefined
  /** The metadata stored with the object. */
  readonly metadata: ObjectMetadata
}

/** Called while bytes move, with the bytes moved so far and the total when known. */
export type TransferProgress = (bytes: number, total: number | undefined) => void

/**
 * Where backups are kept: a bucket and prefix, a folder, or anything else that can store named
 * objects whole. `folderDestination` and `s3Destination` implement it; implement it yourself to
 * keep backups elsewhere. Every method throws a `StorageError` whose message says what to do.
 */
export interface BackupDestination {
  /** Where the backups go, for messages: `'s3://bucket/prefix/'`, `'file:///var/backups/app/'`. */
  readonly description: string
  /**
   * Stores `source` (a file path, or bytes) as `name`, with `metadata`. The object appears whole
   * or not at all: a crash or a failure part-way never leaves a readable partial object under `name`.
   */
  put(
    name: string,
    source: string | Uint8Array,
    metadata: ObjectMetadata,
    onProgress?: TransferProgress,
  ): Promise<void>
  /** Opens object `name` for reading. A missing object is `NOT_FOUND`. */
  get(name: string): Promise<FetchedObject>
  /** Reads a small object (a manifest) whole, or `undefined` when there is no such object. */
  read(name: string): Promise<Uint8Array | undefined>
  /** Every object, fetched page by page, in no particular order. */
  list(): AsyncIterable<StoredObject>
  /** Deletes the named objects; names that do not exist are not an error. */
  delete(names: readonly string[]): Promise<void>
  /** Removes leftovers of writes that were interrupted before `olderThan` (temporary files); optional. */
  sweep?(olderThan: Date): Promise<void>
  /** Releases what the destination opened itself (a client it made); never what it was given. */
  close?(): Promise<void>
}
