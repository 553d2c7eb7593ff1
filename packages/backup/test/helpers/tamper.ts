import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'

/** Changes a stored object's bytes behind engram's back, keeping its metadata. */
export interface Tamper {
  rewrite(object: string, change: (bytes: Uint8Array) => Uint8Array): Promise<void>
}

/** Tampering with a folder destination's files. */
export function folderTamper(folder: string): Tamper {
  return {
    async rewrite(object, change) {
      const path = join(folder, object)
      writeFileSync(path, change(new Uint8Array(readFileSync(path))))
    },
  }
}

/** Tampering with objects in a bucket, as a faulty disk or a partial copy would. */
export function s3Tamper(client: S3Client, bucket: string, prefix: string): Tamper {
  return {
    async rewrite(object, change) {
      const Key = `${prefix}${object}`
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }))
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key }))
      const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: Buffer.from(change(bytes)),
          Metadata: head.Metadata,
        }),
      )
    },
  }
}

/** The same bytes with one bit flipped in the middle. */
export function flipByte(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes)
  const at = Math.floor(copy.length / 2)
  copy[at] = (copy[at] as number) ^ 0x01
  return copy
}

/** The first half of the bytes. */
export function truncate(bytes: Uint8Array): Uint8Array {
  return bytes.slice(0, Math.floor(bytes.length / 2))
}
