import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { hashFile, packFile, unpackFile } from '../src/pack-file.js'

const scratch = mkdtempSync(join(tmpdir(), 'engram-pack-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('packFile', () => {
  // Several 4 MiB blocks plus a partial one, half random (incompressible) and half text.
  const content = Buffer.concat([
    randomBytes(5 * 1024 * 1024),
    Buffer.from('engram backup '.repeat(600_000)),
    randomBytes(1234),
  ])
  const source = join(scratch, 'content.bin')
  writeFileSync(source, content)

  it('a gzip file of many blocks is one file every gunzip reads back byte for byte, with both sha256s right', async () => {
    const target = join(scratch, 'content.bin.gz')
    const packed = await packFile(source, target, 'gzip', 1)
    const stored = readFileSync(target)
    expect(packed).toEqual({
      file: target,
      size: stored.length,
      sha256: sha256(stored),
      contentSize: content.length,
      contentSha256: sha256(content),
    })
    expect(stored.length).toBeLessThan(content.length)
    expect(gunzipSync(stored).equals(content)).toBe(true)
    expect(execFileSync('gzip', ['-dc', target], { maxBuffer: 64 * 1024 * 1024 }).equals(content)).toBe(true)
    const back = join(scratch, 'back.bin')
    expect(await unpackFile(target, back, 'gzip')).toEqual({ size: content.length, sha256: sha256(content) })
    expect(readFileSync(back).equals(content)).toBe(true)
  })

  it("without compression stores the content as it is, with the content's own sha256", async () => {
    const packed = await packFile(source, join(scratch, 'unused'), 'none', 1)
    expect(packed).toEqual({
      file: source,
      size: content.length,
      sha256: sha256(content),
      contentSize: content.length,
      contentSha256: sha256(content),
    })
    expect(await hashFile(source)).toEqual({ size: content.length, sha256: sha256(content) })
  })

  it('an empty file packs to an empty, valid backup', async () => {
    const empty = join(scratch, 'empty.bin')
    writeFileSync(empty, '')
    const packed = await packFile(empty, join(scratch, 'empty.gz'), 'gzip', 1)
    expect(packed).toMatchObject({ contentSize: 0, contentSha256: sha256(new Uint8Array()) })
    expect(await unpackFile(packed.file, join(scratch, 'empty.back'), 'gzip')).toEqual({
      size: 0,
      sha256: sha256(new Uint8Array()),
    })
  })
})
