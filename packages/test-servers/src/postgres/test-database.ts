import pg from 'pg'

/** The test database: `ENGRAM_PG_URL`, or the one scripts/services.sh starts. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** `url` with its password masked, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@')
}

/** Fails loudly (never skips) when the test database cannot be reached; `who` starts the message. */
export async function requirePostgres(who: string, url = PG_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(
      `${who} need PostgreSQL with pgvector at ${redactUrl(url)} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs SQL on a short-lived connection of its own (never one under test) and returns the rows. */
export async function adminRows<T extends Record<string, unknown> = Record<string, unknown>>(
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** Runs admin SQL (several statements allowed without `params`) on a short-lived connection. */
export async function admin(sql: string, params?: unknown[]): Promise<void> {
  await adminRows(sql, params)
}

/** A lowercase name nothing else uses yet, for the schemas, tables and roles of one run. */
export function freshName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}
