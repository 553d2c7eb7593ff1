import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3Client } from '@aws-sdk/client-s3'

const here = dirname(fileURLToPath(import.meta.url))
const script = join(here, '..', 'fixtures', 's3rver-server.cjs')

/** s3rver's fixed account, which it checks signatures against. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

/** A running s3rver in a child process, with a temporary data folder and the buckets asked for. */
export interface S3rverHandle {
  readonly endpoint: string
  /** A real S3Client for it (path-style, s3rver's credentials). */
  client(): S3Client
  stop(): Promise<void>
}

/** Starts s3rver on 127.0.0.1 and a free port, in a temporary folder, with `buckets` created. */
export async function startS3rver(...buckets: string[]): Promise<S3rverHandle> {
  const folder = mkdtempSync(join(tmpdir(), 'engram-s3rver-'))
  const child = spawn(process.execPath, ['--openssl-legacy-provider', script, folder, ...buckets], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0]
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port)
    })
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)))
  })
  const endpoint = `http://127.0.0.1:${port}`
  const clients: S3Client[] = []
  return {
    endpoint,
    client() {
      const client = new S3Client({
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
      })
      clients.push(client)
      return client
    },
    async stop() {
      for (const client of clients) client.destroy()
      await stopChild(child)
      rmSync(folder, { recursive: true, force: true })
    },
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.stdin?.end()
  child.kill()
  await exited
}
