import type {
  FilterNode,
  Row,
  SqlValue,
  StorageAdapter,
  StoreDeleteTarget,
  ValidRecord,
  VectorRecord,
} from '@engram/core'
import { pgFilter } from './pg-filter.js'
import { atomically, type PgCollection } from './pg-vector-registry.js'
import { toRecord, vectorArrayParam } from './pg-vector-rows.js'

/** Rows per upsert statement. */
const UPSERT_CHUNK = 500

/** The SQL condition for a validated filter (`TRUE` for none), its values added to `params` as `:f0`, `:f1`, … */
export function filterCondition(node: FilterNode | undefined, params: Record<string, SqlValue>): string {
  if (node === undefined) return 'TRUE'
  let next = 0
  const bind = (value: SqlValue): string => {
    const name = `f${next++}`
    params[name] = value
    return `:${name}`
  }
  return pgFilter(node, { column: 'metadata', bind })
}

/** Inserts or replaces the tenant's records, all or nothing. */
export async function upsertRows(
  collection: PgCollection,
  tenant: string,
  records: readonly ValidRecord[],
): Promise<void> {
  // Row n's vector is the n-th slice of `:dimension` numbers of the one binary `real[]`.
  const sql = `INSERT INTO ${collection.table} (tenant_id, id, embedding, metadata, text)
    SELECT :tenant, u.id, (:embeddings::real[])[u.n * :dimension - :dimension + 1 : u.n * :dimension]::vector,
      u.metadata::jsonb, u.text
    FROM unnest(:ids::text[], :metadata::text[], :texts::text[]) WITH ORDINALITY AS u(id, metadata, text, n)
    ON CONFLICT (tenant_id, id) DO UPDATE
    SET embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, text = EXCLUDED.text`
  const write = async (tx: StorageAdapter): Promise<void> => {
    // One statement per chunk of rows (arrays bound as five parameters), never one round trip per row.
    for (let start = 0; start < records.length; start += UPSERT_CHUNK) {
      const chunk = records.slice(start, start + UPSERT_CHUNK)
      await tx.run(sql, {
        tenant,
        dimension: collection.dimension,
        ids: chunk.map((r) => r.id),
        embeddings: vectorArrayParam(
          chunk.map((r) => r.vector),
          collection.dimension,
        ),
        metadata: chunk.map((r) => (r.metadata === undefined ? null : JSON.stringify(r.metadata))),
        texts: chunk.map((r) => r.text ?? null),
      })
    }
  }
  // Several chunks share one transaction; a single statement is atomic on its own.
  if (records.length <= UPSERT_CHUNK) await write(collection.db)
  else await atomically(collection, write)
}

/** The tenant's records with these ids, in any order. */
export async function getRows(
  collection: PgCollection,
  tenant: string,
  ids: string[],
): Promise<VectorRecord[]> {
  const rows = await collection.db.all(
    `SELECT id, embedding, metadata, text FROM ${collection.table} WHERE tenant_id = :tenant AND id = ANY(:ids::text[])`,
    { tenant, ids },
  )
  return rows.map(toRecord)
}

/** Deletes the tenant's records by ids or by filter and returns how many went. */
export async function deleteRows(
  collection: PgCollection,
  tenant: string,
  target: StoreDeleteTarget,
): Promise<number> {
  if ('ids' in target) {
    const result = await collection.db.run(
      `DELETE FROM ${collection.table} WHERE tenant_id = :tenant AND id = ANY(:ids::text[])`,
      { tenant, ids: target.ids },
    )
    return result.changes
  }
  const params: Record<string, SqlValue> = { tenant }
  const condition = filterCondition(target.filter, params)
  const result = await collection.db.run(
    `DELETE FROM ${collection.table} WHERE tenant_id = :tenant AND ${condition}`,
    params,
  )
  return result.changes
}

/** Deletes every record of the tenant. */
export async function deleteTenantRows(collection: PgCollection, tenant: string): Promise<void> {
  await collection.db.run(`DELETE FROM ${collection.table} WHERE tenant_id = :tenant`, { tenant })
}

/** Counts the tenant's records, or those matching `filter`. */
export async function countRows(
  collection: PgCollection,
  tenant: string,
  filter: FilterNode | undefined,
): Promise<number> {
  const params: Record<string, SqlValue> = { tenant }
  const condition = filterCondition(filter, params)
  const row = await collection.db.get<{ n: number }>(
    `SELECT count(*) AS n FROM ${collection.table} WHERE tenant_id = :tenant AND ${condition}`,
    params,
  )
  return Number(row?.n ?? 0)
}

/** Whether the tenant has at least `limit` records; counting stops there, so it reads at most `limit` index entries. */
export async function hasAtLeast(collection: PgCollection, tenant: string, limit: number): Promise<boolean> {
  const row = await collection.db.get<{ n: number }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${collection.table} WHERE tenant_id = :tenant LIMIT :limit) s`,
    { tenant, limit },
  )
  return Number(row?.n ?? 0) >= limit
}

/**
 * One page of a scan: up to `limit` of the tenant's records with ids after `after`, in id order.
 * Keyset pagination on the primary key, so each page is an index range scan however deep the scan is.
 */
export function scanPage(
  db: StorageAdapter,
  collection: PgCollection,
  page: { tenant: string; after: string; limit: number; filter: FilterNode | undefined },
): Promise<Row[]> {
  const params: Record<string, SqlValue> = { tenant: page.tenant, after: page.after, limit: page.limit }
  const condition = filterCondition(page.filter, params)
  return db.all(
    `SELECT id, embedding, metadata, text FROM ${collection.table}
     WHERE tenant_id = :tenant AND id > :after AND ${condition} ORDER BY id LIMIT :limit`,
    params,
  )
}
