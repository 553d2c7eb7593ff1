import {
  adminRows as admin,
  freshName,
  PG_URL,
  requirePostgres as requireTestPostgres,
} from '@engram/test-servers/postgres'

export { admin, freshName, PG_URL }

/** Fails loudly (never skips) when the test database cannot be reached. */
export const requirePostgres = (): Promise<void> => requireTestPostgres('The reliability suite')

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
