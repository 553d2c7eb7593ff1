import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import type { BackupCompression } from './backup-names.js'

/** Sizes and sha256s of a backup's content and of the bytes stored for it. */
export interface PackedFile {
  /** The file to upload (the content itself when not compressed). */
  readonly file: string
  /** Stored bytes. */
  readonly size: number
  /** sha256 (hex) of the stored bytes. */
  readonly sha256: string
  /** Content bytes, before compression. */
  readonly contentSize: number
  /** sha256 (hex) of the content. */
  readonly contentSha256: string
}

/** Called with bytes read so far and the total. */
type Progress = (bytes: number, total: number) => void

const CHUNK = 1024 * 1024

/** A pass-through stream that hashes and counts what flows through it. */
function digester(
  onChunk?: (bytes: number) => void,
): Transform & { digest(): { size: number; sha256: string } } {
  const hash = createHash('sha256')
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      size += chunk.length
      onChunk?.(size)
      done(null, chunk)
    },
  })
  return Object.assign(stream, { digest: () => ({ size, sha256: hash.digest('hex') }) })
}

/** Hashes `content` and, with gzip, compresses it into `target` while hashing the result. */
export async function packFile(
  content: string,
  target: string,
  compression: BackupCompression,
  gzipLevel: number,
  onProgress?: Progress,
): Promise<PackedFile> {
  const total = (await stat(content)).size
  const read = digester((bytes) => onProgress?.(bytes, total))
  if (compression === 'none') {
    await pipeline(createReadStream(content, { highWaterMark: CHUNK }), read, async (source) => {
      for await (const _ of source);
    })
    const { size, sha256 } = read.digest()
    return { file: content, size, sha256, contentSize: size, contentSha256: sha256 }
  }
  const written = digester()
  await pipeline(
    createReadStream(content, { highWaterMark: CHUNK }),
    read,
    createGzip({ level: gzipLevel, chunkSize: 256 * 1024 }),
    written,
    createWriteStream(target),
  )
  const c = read.digest()
  const s = written.digest()
  return { file: target, size: s.size, sha256: s.sha256, contentSize: c.size, contentSha256: c.sha256 }
}

/** The length and sha256 of a file. */
export async function hashFile(
  path: string,
  onProgress?: Progress,
): Promise<{ size: number; sha256: string }> {
  const total = (await stat(path)).size
  const read = digester((bytes) => onProgress?.(bytes, total))
  await pipeline(createReadStream(path, { highWaterMark: CHUNK }), read, async (source) => {
    for await (const _ of source);
  })
  return read.digest()
}

/** Writes the content of a stored file to `target` (decompressing gzip), returning its length and sha256. */
export async function unpackFile(
  stored: string,
  target: string,
  compression: BackupCompression,
  onProgress?: Progress,
): Promise<{ size: number; sha256: string }> {
  const total = (await stat(stored)).size
  let read = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length
      onProgress?.(read, total)
      done(null, chunk)
    },
  })
  const content = digester()
  const stages = compression === 'gzip' ? [counter, createGunzip({ chunkSize: 256 * 1024 })] : [counter]
  await pipeline([
    createReadStream(stored, { highWaterMark: CHUNK }),
    ...stages,
    content,
    createWriteStream(target),
  ])
  return content.digest()
}
