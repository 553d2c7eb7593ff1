import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { isStorageError } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importOptional } from '../src/import-optional.js'
import { s3Destination } from '../src/index.js'
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './helpers/s3rver.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-s3-destination-'))
let s3: S3rverHandle
let counter = 0

beforeAll(async () => {
  s3 = await startS3rver('engram-objects')
})
afterAll(async () => {
  await s3?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

function destination(extra: Record<string, unknown> = {}) {
  return s3Destination({
    bucket: 'engram-objects',
    prefix: `run-${++counter}/`,
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
    ...extra,
  })
}

async function names(d: ReturnType<typeof destination>): Promise<string[]> {
  const out: string[] = []
  for await (const object of d.list()) out.push(object.name)
  return out.sort()
}

describe('s3Destination on s3rver through @aws-sdk/client-s3', () => {
  it('uploads a file larger than partSize as a multipart upload that reads back byte for byte, metadata included', async () => {
    const d = destination({ partSize: 5 * 1024 * 1024, concurrency: 2 })
    const file = join(scratch, 'big.bin')
    const bytes = randomBytes(12 * 1024 * 1024 + 123)
    writeFileSync(file, bytes)
    const progress: number[] = []
    await d.put('big.bin', file, { 'engram-sha256': 'abc' }, (done) => progress.push(done))
    expect(progress.at(-1)).toBe(bytes.length)
    expect(progress.length).toBe(3)
    const fetched = await d.get('big.bin')
    expect(fetched).toMatchObject({ size: bytes.length, metadata: { 'engram-sha256': 'abc' } })
    const chunks: Uint8Array[] = []
    for await (const chunk of fetched.body) chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true)
    const head = await s3
      .client()
      .send(new HeadObjectCommand({ Bucket: 'engram-objects', Key: `run-${counter}/big.bin` }))
    expect(head.ContentLength).toBe(bytes.length)
  })

  it('lists every object across pages, only those directly under the prefix', async () => {
    const d = destination({ pageSize: 3 })
    for (let i = 0; i < 8; i++) await d.put(`object-${i}`, new Uint8Array([i]), {})
    const deeper = s3Destination({
      bucket: 'engram-objects',
      prefix: `run-${counter}/deeper/`,
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    })
    await deeper.put('hidden', new Uint8Array([9]), {})
    expect(await names(d)).toEqual(Array.from({ length: 8 }, (_, i) => `object-${i}`))
    await d.delete(['object-1', 'object-5', 'never-existed'])
    expect(await names(d)).toEqual(['object-0', 'object-2', 'object-3', 'object-4', 'object-6', 'object-7'])
  })

  it('reads a missing object as undefined and says NOT_FOUND when downloading it', async () => {
    const d = destination()
    expect(await d.read('nothing-here')).toBeUndefined()
    const error = await d.get('nothing-here').catch((e) => e)
    expect(isStorageError(error, 'NOT_FOUND')).toBe(true)
  })

  it('says the bucket does not exist, with what to do', async () => {
    const d = s3Destination({
      bucket: 'no-such-bucket',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    })
    const error = await d.put('x', new Uint8Array([1]), {}).catch((e) => e)
    expect(isStorageError(error, 'NOT_FOUND')).toBe(true)
    expect((error as Error).message).toContain('the bucket does not exist; create it first')
  })

  it('says the credentials are wrong, naming what to check', async () => {
    // s3rver does not check SigV4 signatures, but it does know its one access key.
    const d = s3Destination({
      bucket: 'engram-objects',
      endpoint: s3.endpoint,
      credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' },
    })
    const error = await d.put('x', new Uint8Array([1]), {}).catch((e) => e)
    expect(isStorageError(error, 'CONNECTION_FAILED')).toBe(true)
    expect((error as Error).message).toContain('Check the credentials')
  })

  it('says the endpoint is unreachable', async () => {
    const d = s3Destination({
      bucket: 'engram-objects',
      endpoint: 'http://127.0.0.1:1',
      credentials: S3RVER_CREDENTIALS,
    })
    const error = await d.read('x').catch((e) => e)
    expect(isStorageError(error, 'CONNECTION_FAILED')).toBe(true)
    expect((error as Error).message).toContain('Check the endpoint URL')
  })

  it('refuses bad configuration with INVALID_ARGUMENT', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ bucket: 'No_Caps' }, /bucket must be an S3 bucket name/],
      [{ bucket: 'ok-bucket', prefix: '/abs' }, /prefix must be a key prefix/],
      [{ bucket: 'ok-bucket', endpoint: 'localhost:9000' }, /endpoint must be an http/],
      [{ bucket: 'ok-bucket', partSize: 1024 }, /partSize must be .* at least 5 MiB/],
      [{ bucket: 'ok-bucket', pageSize: 5000 }, /pageSize must be an integer from 1 to 1000/],
      [{ bucket: 'ok-bucket', client: s3.client(), region: 'us-east-1' }, /either client .* or region/],
      [{ bucket: 'ok-bucket', client: {} }, /client must be an S3Client/],
    ]
    for (const [config, message] of bad) {
      expect(() => s3Destination(config as never), JSON.stringify(Object.keys(config))).toThrow(message)
    }
  })

  it('uses a client it is given and never destroys it', async () => {
    const client = s3.client()
    const d = s3Destination({ client, bucket: 'engram-objects', prefix: `run-${++counter}` })
    await d.put('a', new Uint8Array([1]), {})
    await d.close?.()
    expect(await d.read('a')).toEqual(new Uint8Array([1]))
    expect(d.description).toBe(`s3://engram-objects/run-${counter}/`)
  })
})

describe('the optional S3 SDK', () => {
  it('a missing peer is DRIVER_NOT_INSTALLED with the command that installs it', async () => {
    const error = await importOptional('@aws-sdk/client-s3-not-a-package', 'An S3 backup destination').catch(
      (e) => e,
    )
    expect(isStorageError(error, 'DRIVER_NOT_INSTALLED')).toBe(true)
    expect((error as Error).message).toMatch(
      /An S3 backup destination needs @aws-sdk\/client-s3-not-a-package, which is not installed; add it with "(pnpm add|npm install) @aws-sdk\/client-s3-not-a-package/,
    )
  })
})
