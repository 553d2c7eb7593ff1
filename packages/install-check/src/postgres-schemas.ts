import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { outputTail, runCommand } from './run-command.js'

/** The test PostgreSQL: `ENGRAM_PG_URL`, or the local server `scripts/services.sh` starts. */
export function testPostgresUrl(): string {
  return process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'
}

/** The URL with `search_path` set to `schema` first (then `public`, where pgvector's type lives). */
export function urlWithSchema(url: string, schema: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('options', `-c search_path=${schema},public`)
  return parsed.toString()
}

const SCRIPT = `import pg from 'pg'
const [action, url, ...schemas] = process.argv.slice(2)
const client = new pg.Client({ connectionString: url })
await client.connect()
try {
  for (const schema of schemas) {
    await client.query(action === 'create' ? 'CREATE SCHEMA "' + schema + '"' : 'DROP SCHEMA IF EXISTS "' + schema + '" CASCADE')
  }
} finally {
  await client.end()
}
`

/**
 * Creates or drops schemas on the test server with the `pg` the fresh app installed (the check
 * itself depends on no database client).
 */
export async function manageSchemas(
  appDir: string,
  env: NodeJS.ProcessEnv,
  action: 'create' | 'drop',
  url: string,
  schemas: readonly string[],
): Promise<void> {
  for (const schema of schemas) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`not a plain schema name: ${schema}`)
  }
  mkdirSync(join(appDir, 'harness'), { recursive: true })
  const script = join(appDir, 'harness', 'schemas.mjs')
  writeFileSync(script, SCRIPT)
  const result = await runCommand(process.execPath, [script, action, url, ...schemas], {
    cwd: appDir,
    env,
    timeoutMs: 60_000,
  })
  if (result.code !== 0) {
    throw new Error(
      `could not ${action} schemas on ${url} (is PostgreSQL running? see scripts/services.sh):\n${outputTail(result)}`,
    )
  }
}
