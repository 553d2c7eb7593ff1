import type { StorageAdapter } from '@engram/core'

/** The row-level security policy on every collection table of a `rowLevelSecurity` store. */
const POLICY = 'engram_tenant'

// A pooled connection that once set app.tenant_id reads it back as '' afterwards, not NULL: treat
// '' as "no tenant" so such a connection can never see rows stored under the empty tenant.
const TENANT_SETTING = `nullif(current_setting('app.tenant_id', true), '')`

/** Sets `app.tenant_id` to the bound `:tenant` until the transaction ends; a select-list expression. */
export const SET_TENANT = `set_config('app.tenant_id', :tenant, true)`

/**
 * Row-level security for one collection table. FORCE makes the policy bind the table's owner too;
 * `current_setting(…, true)` is NULL (no rows) when a session never set `app.tenant_id`, and so is ''.
 */
export function rowSecurityDdl(table: string): string {
  const check = `tenant_id = ${TENANT_SETTING}`
  return `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS ${POLICY} ON ${table};
    CREATE POLICY ${POLICY} ON ${table} USING (${check}) WITH CHECK (${check})`
}

/** Turns on row-level security for a collection table that does not have engram's policy yet (needs its owner). */
export async function secureTable(db: StorageAdapter, table: string): Promise<void> {
  const row = await db.get<{ secured: boolean }>(
    `SELECT c.relrowsecurity AND c.relforcerowsecurity
      AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy) AS secured
     FROM pg_class c WHERE c.oid = :table::regclass`,
    { table, policy: POLICY },
  )
  if (row?.secured !== true) await db.exec(rowSecurityDdl(table))
}

/**
 * Runs statements that need no collection lookup: on the adapter, or under row-level security
 * in one transaction that sets `app.tenant_id` first.
 */
export function withTenant<T>(
  db: StorageAdapter,
  tenant: string,
  rowLevelSecurity: boolean,
  fn: (db: StorageAdapter) => Promise<T>,
): Promise<T> {
  if (!rowLevelSecurity) return fn(db)
  return db.transaction(async (tx) => {
    await tx.get(`SELECT ${SET_TENANT} AS tenant`, { tenant })
    return fn(tx)
  })
}
