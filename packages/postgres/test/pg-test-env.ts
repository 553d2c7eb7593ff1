import pg from 'pg'

/** The test database; CI starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** Fails loudly (never skips) when the test database cannot be reached. */
export async function requireDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(
      `The @engram/postgres tests need PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs admin SQL on a short-lived connection. */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** A fresh schema name nothing uses yet. */
export function freshSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}
