import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createPostgresAdapter } from '@engram/postgres'

/** The test database; CI starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url))

/** What one `engram` run printed and how it ended. */
export interface CliRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `engram <args>` as a child process, the way a user's shell would (stdout and stderr are pipes, not terminals). */
export function engram(
  args: readonly string[],
  options: { input?: Buffer; killOn?: RegExp; env?: Record<string, string> } = {},
): Promise<CliRun> {
  if (!existsSync(main))
    throw new Error(`${main} is missing: build @engram/cli first (tsc -p apps/cli/tsconfig.build.json)`)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production', ...options.env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (options.killOn?.test(stderr)) child.kill('SIGKILL')
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end(options.input)
  })
}

/** The one JSON document a `--json` run printed. */
export function jsonOf(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.trim().split('\n')
  if (lines.length !== 1)
    throw new Error(`expected one line of JSON on stdout, got:\n${run.stdout}\nstderr:\n${run.stderr}`)
  return JSON.parse(lines[0] as string) as Record<string, unknown>
}

/** Fresh schemas and folders for one test file, removed at the end. */
export function scratch(prefix: string) {
  const admin = createPostgresAdapter({ connectionString: PG_URL, max: 2 })
  const schemas: string[] = []
  const folders: string[] = []
  return {
    admin,
    /** A new schema and a URL whose connections use it (and public, where pgvector lives). */
    async schema(): Promise<{ name: string; url: string }> {
      const name = `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
      await admin.exec(`CREATE SCHEMA ${name}`)
      schemas.push(name)
      const url = new URL(PG_URL)
      url.searchParams.set('options', `-c search_path=${name},public`)
      return { name, url: url.toString() }
    },
    /** A path in a new empty folder. */
    file(name: string): string {
      const folder = mkdtempSync(join(tmpdir(), `${prefix}-`))
      folders.push(folder)
      return join(folder, name)
    },
    async cleanup(): Promise<void> {
      for (const name of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
      await admin.close()
      for (const folder of folders) rmSync(folder, { recursive: true, force: true })
    },
  }
}
