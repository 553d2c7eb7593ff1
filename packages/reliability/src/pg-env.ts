import pg from 'pg'

/** The test database; `pnpm test:reliability` starts it with scripts/services.sh. */
export const PG_URL = process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test'

/** Fails loudly (never skips) when the test database cannot be reached. */
export async function requirePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(
      `The reliability suite needs PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')} (set ENGRAM_PG_URL, or run scripts/services.sh): ${(error as Error).message}`,
    )
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs SQL on a short-lived connection of its own (never one of the adapters under test) and returns the rows. */
export async function admin<T extends Record<string, unknown> = Record<string, unknown>>(
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

/** A lowercase name nothing else uses, for schemas, tables and application names of one run. */
export function freshName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
}

/** Terminates the backends of `pids` (or of every connection with `applicationName`) and returns how many went. */
export async function terminateBackends(
  target: { pids: number[] } | { applicationName: string },
): Promise<number> {
  const rows =
    'pids' in target
      ? await admin<{ gone: boolean }>(
          'SELECT pg_terminate_backend(pid) AS gone FROM unnest($1::int[]) AS pid',
          [target.pids],
        )
      : await admin<{ gone: boolean }>(
          'SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [target.applicationName],
        )
  return rows.filter((row) => row.gone).length
}
