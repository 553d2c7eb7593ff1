import { open, readFile, stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import type * as S3 from '@aws-sdk/client-s3'
import { booleanOption, StorageError } from '@engram/core'
import type {
  BackupDestination,
  FetchedObject,
  ObjectMetadata,
  StoredObject,
  TransferProgress,
} from './backup-destination.js'
import { importOptional } from './import-optional.js'
import { isMissingObject, s3Failure } from './s3-failure.js'

/** The part of an `S3Client` engram uses, so this package's types never need the SDK installed. */
export interface S3ClientLike {
  /** Sends one command (an `@aws-sdk/client-s3` command object). */
  send(command: never): Promise<unknown>
  /** Releases the client's sockets. */
  destroy?(): void
}

/** Credentials for a client `s3Destination` makes itself. */
export interface S3Credentials {
  /** The access key id. */
  readonly accessKeyId: string
  /** The secret access key. */
  readonly secretAccessKey: string
  /** A session token, for temporary credentials. */
  readonly sessionToken?: string
}

/** Options for `s3Destination`: a bucket and prefix, and either a `client` or how to make one. */
export interface S3DestinationConfig {
  /** The bucket backups go into (it must exist). */
  readonly bucket: string
  /** A key prefix, such as `'agent/backups/'`; a `/` is added when it does not end with one. Default is `''`. */
  readonly prefix?: string
  /** An `S3Client` you made; used as it is and never destroyed by engram. */
  readonly client?: S3ClientLike
  /** The region of a client engram makes. Default is `$AWS_REGION`, else `'us-east-1'` (R2 takes `'auto'`). */
  readonly region?: string
  /** The endpoint of an S3-compatible service (R2: `https://<account>.r2.cloudflarestorage.com`, MinIO: `http://host:9000`). Default is AWS. */
  readonly endpoint?: string
  /** Credentials of a client engram makes. Default is the SDK's chain (environment variables, profiles, roles). */
  readonly credentials?: S3Credentials
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need. Default is `true` when `endpoint` is set, `false` otherwise. */
  readonly forcePathStyle?: boolean
  /** Files larger than this go up as a multipart upload of parts this size, in bytes (at least 5 MiB). Default is 16 MiB. */
  readonly partSize?: number
  /** Parts of a multipart upload sent at once. Default is `4`. */
  readonly concurrency?: number
  /** Keys asked for per listing page (S3's maximum is 1,000). Default is `1000`. */
  readonly pageSize?: number
}

type Sdk = typeof S3
type Client = S3.S3Client

const MiB = 1024 * 1024
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

let sdk: Promise<Sdk> | undefined

/** Loads `@aws-sdk/client-s3` once, when the first S3 destination is used. */
function loadSdk(): Promise<Sdk> {
  sdk ??= importOptional<Sdk>('@aws-sdk/client-s3', 'An S3 backup destination').catch((error: unknown) => {
    sdk = undefined
    throw error
  })
  return sdk
}

/**
 * Backups in an S3 bucket, or in any S3-compatible store (Cloudflare R2, MinIO) through
 * `endpoint`, with path-style addressing. `@aws-sdk/client-s3` is an optional peer: it is loaded
 * when the destination is first used, and a missing one is `DRIVER_NOT_INSTALLED` with the
 * command to install it. Uploads are whole objects (a single PUT, or a multipart upload that is
 * aborted on failure), so a failed or killed upload never leaves a readable partial object.
 *
 * @example
 * const r2 = s3Destination({ bucket: 'agent-backups', endpoint: process.env.R2_ENDPOINT, region: 'auto' })
 * const minio = s3Destination({ bucket: 'backups', endpoint: 'http://127.0.0.1:9000', credentials })
 */
export function s3Destination(config: S3DestinationConfig): BackupDestination {
  return new S3Destination(checkConfig(config))
}

interface Settings {
  readonly bucket: string
  readonly prefix: string
  readonly partSize: number
  readonly concurrency: number
  readonly pageSize: number
  readonly config: S3DestinationConfig
}

function checkConfig(config: S3DestinationConfig): Settings {
  if (config === null || typeof config !== 'object') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      's3Destination needs { bucket, prefix?, client? | region/endpoint/credentials }',
    )
  }
  const { bucket, prefix = '', partSize = 16 * MiB, concurrency = 4, pageSize = 1000 } = config
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `bucket must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens); got ${JSON.stringify(bucket)}`,
    )
  }
  if (typeof prefix !== 'string' || prefix.startsWith('/') || prefix.includes('\0')) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `prefix must be a key prefix such as 'backups/' (not starting with /); got ${JSON.stringify(prefix)}`,
    )
  }
  if (config.client !== undefined && typeof config.client?.send !== 'function') {
    throw new StorageError('INVALID_ARGUMENT', 'client must be an S3Client from @aws-sdk/client-s3')
  }
  if (config.client !== undefined && (config.endpoint ?? config.credentials ?? config.region) !== undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'Pass either client (configured already) or region/endpoint/credentials (engram makes the client), not both',
    )
  }
  booleanOption(config.forcePathStyle, false, 'forcePathStyle')
  if (config.endpoint !== undefined && !/^https?:\/\/[^/]/.test(String(config.endpoint))) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `endpoint must be an http:// or https:// URL; got ${JSON.stringify(config.endpoint)}`,
    )
  }
  if (!Number.isInteger(partSize) || partSize < 5 * MiB) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `partSize must be a whole number of bytes, at least 5 MiB (S3's minimum part); got ${partSize}`,
    )
  }
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `concurrency must be an integer from 1 to 64; got ${concurrency}`,
    )
  }
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new StorageError('INVALID_ARGUMENT', `pageSize must be an integer from 1 to 1000; got ${pageSize}`)
  }
  const normalised = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`
  return { bucket, prefix: normalised, partSize, concurrency, pageSize, config }
}

class S3Destination implements BackupDestination {
  readonly description: string
  readonly #settings: Settings
  #client: Promise<{ sdk: Sdk; client: Client }> | undefined
  #ownsClient = false

  constructor(settings: Settings) {
    this.#settings = settings
    this.description = `s3://${settings.bucket}/${settings.prefix}`
  }

  async put(
    name: string,
    source: string | Uint8Array,
    metadata: ObjectMetadata,
    onProgress?: TransferProgress,
  ): Promise<void> {
    const { sdk, client } = await this.#connect()
    const Key = this.#key(name)
    const { bucket: Bucket, partSize } = this.#settings
    try {
      const size = typeof source === 'string' ? (await stat(source)).size : source.byteLength
      if (size <= partSize) {
        const Body = typeof source === 'string' ? await readFile(source) : Buffer.from(source)
        await client.send(
          new sdk.PutObjectCommand({ Bucket, Key, Body, ContentLength: size, Metadata: { ...metadata } }),
        )
        onProgress?.(size, size)
        return
      }
      await this.#multipart(sdk, client, Key, source as string, size, metadata, onProgress)
    } catch (error) {
      throw s3Failure(error, `upload ${name}`, this.description)
    }
  }

  async get(name: string): Promise<FetchedObject> {
    const { sdk, client } = await this.#connect()
    try {
      const response = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.#settings.bucket, Key: this.#key(name) }),
      )
      return {
        body: response.Body as Readable,
        size: response.ContentLength,
        metadata: response.Metadata ?? {},
      }
    } catch (error) {
      throw s3Failure(error, `download ${name}`, this.description)
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const { sdk, client } = await this.#connect()
    try {
      const response = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.#settings.bucket, Key: this.#key(name) }),
      )
      return await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()
    } catch (error) {
      if (isMissingObject(error)) return undefined
      throw s3Failure(error, `read ${name}`, this.description)
    }
  }

  async *list(): AsyncIterable<StoredObject> {
    const { sdk, client } = await this.#connect()
    const { bucket, prefix, pageSize } = this.#settings
    let ContinuationToken: string | undefined
    do {
      let page: S3.ListObjectsV2CommandOutput
      try {
        page = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            MaxKeys: pageSize,
            ContinuationToken,
          }),
        )
      } catch (error) {
        throw s3Failure(error, 'list the backups', this.description)
      }
      for (const item of page.Contents ?? []) {
        const name = item.Key?.slice(prefix.length)
        // Keys deeper under the prefix belong to something else.
        if (name && !name.includes('/')) yield { name, size: item.Size ?? 0 }
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (ContinuationToken !== undefined)
  }

  async delete(names: readonly string[]): Promise<void> {
    if (names.length === 0) return
    const { sdk, client } = await this.#connect()
    for (let start = 0; start < names.length; start += 1000) {
      const batch = names.slice(start, start + 1000)
      let result: S3.DeleteObjectsCommandOutput
      try {
        result = await client.send(
          new sdk.DeleteObjectsCommand({
            Bucket: this.#settings.bucket,
            Delete: { Objects: batch.map((name) => ({ Key: this.#key(name) })), Quiet: true },
          }),
        )
      } catch (error) {
        throw s3Failure(error, `delete ${batch.length} objects`, this.description)
      }
      const failed = result.Errors ?? []
      if (failed.length > 0) {
        const first = failed[0]
        throw new StorageError(
          'QUERY_FAILED',
          `Could not delete ${failed.length} objects in ${this.description}, such as ${first?.Key}: ${first?.Code} ${first?.Message ?? ''}`.trim(),
        )
      }
    }
  }

  async close(): Promise<void> {
    const connecting = this.#client
    this.#client = undefined
    if (connecting === undefined || !this.#ownsClient) return
    const { client } = await connecting.catch(() => ({ client: undefined }))
    client?.destroy()
  }

  async #multipart(
    sdk: Sdk,
    client: Client,
    Key: string,
    path: string,
    size: number,
    metadata: ObjectMetadata,
    onProgress?: TransferProgress,
  ): Promise<void> {
    const { bucket: Bucket, partSize, concurrency } = this.#settings
    const created = await client.send(
      new sdk.CreateMultipartUploadCommand({ Bucket, Key, Metadata: { ...metadata } }),
    )
    const UploadId = created.UploadId
    if (UploadId === undefined) throw new Error('the service returned no upload id')
    const file = await open(path, 'r')
    try {
      const count = Math.ceil(size / partSize)
      const etags: string[] = new Array(count)
      let next = 0
      let sent = 0
      const worker = async () => {
        while (next < count) {
          const index = next++
          const length = Math.min(partSize, size - index * partSize)
          const Body = Buffer.allocUnsafe(length)
          const { bytesRead } = await file.read(Body, 0, length, index * partSize)
          if (bytesRead !== length) throw new Error(`the file ${path} changed size while it was uploaded`)
          const part = await client.send(
            new sdk.UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber: index + 1,
              Body,
              ContentLength: length,
            }),
          )
          etags[index] = part.ETag ?? ''
          sent += length
          onProgress?.(sent, size)
        }
      }
      await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      )
    } catch (error) {
      // Parts of an aborted upload are never visible as an object; aborting frees their storage.
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined)
      throw error
    } finally {
      await file.close()
    }
  }

  #key(name: string): string {
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
      throw new StorageError('INVALID_ARGUMENT', `${JSON.stringify(name)} is not an object name (no slashes)`)
    }
    return `${this.#settings.prefix}${name}`
  }

  #connect(): Promise<{ sdk: Sdk; client: Client }> {
    if (this.#client !== undefined) return this.#client
    const connecting = loadSdk().then((sdk) => {
      const { config } = this.#settings
      if (config.client !== undefined) return { sdk, client: config.client as unknown as Client }
      this.#ownsClient = true
      const custom = config.endpoint !== undefined
      const client = new sdk.S3Client({
        region: config.region ?? process.env.AWS_REGION ?? 'us-east-1',
        ...(custom ? { endpoint: config.endpoint } : {}),
        ...(config.credentials ? { credentials: config.credentials } : {}),
        forcePathStyle: config.forcePathStyle ?? custom,
        // S3-compatible services do not all accept the SDK's newer default checksums; engram
        // checks every backup with its own sha256 instead.
        ...(custom
          ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
      })
      return { sdk, client }
    })
    this.#client = connecting
    connecting.catch(() => {
      if (this.#client === connecting) this.#client = undefined
    })
    return connecting
  }
}
