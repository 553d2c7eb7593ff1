import { describeVectorStore } from '@engram/conformance'
import type { StorageAdapter, VectorRecord, VectorStore } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgVectorStore, createPostgresAdapter } from '../src/index.js'
import { createRestrictedRole, type RestrictedRole, requireDatabase } from './pg-test-env.js'

// Superusers and BYPASSRLS roles skip row-level security even with FORCE, so everything here
// runs as a fresh role that owns the tables it creates through the store.
let login: RestrictedRole
let adapter: StorageAdapter
let owner: VectorStore
let storeA: VectorStore
let storeB: VectorStore
const name = 'shared_notes'
let table: string

const record = (id: string, vector: number[], metadata: Record<string, string>): VectorRecord => ({
  id,
  vector,
  metadata,
  text: `shared words ${id}`,
})

/** Runs `fn` in a transaction whose `app.tenant_id` is `tenant`, as the store does under RLS. */
function asTenant<T>(tenant: string, fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
  return adapter.transaction(async (tx) => {
    await tx.get(`SELECT set_config('app.tenant_id', ?, true) AS tenant`, [tenant])
    return fn(tx)
  })
}

async function rawCount(db: StorageAdapter): Promise<number> {
  return Number((await db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))?.n)
}

async function loadBothTenants(): Promise<void> {
  await storeB.upsert(name, [
    record('b1', [1, 0], { tenant_id: 'B' }),
    record('same', [0, 1], { tenant_id: 'B' }),
  ])
  await storeA.upsert(name, [
    record('a1', [1, 0.1], { owner: 'a' }),
    record('same', [0.5, 0.5], { owner: 'a' }),
  ])
}

beforeAll(async () => {
  await requireDatabase()
  login = await createRestrictedRole('engram_rls')
  adapter = createPostgresAdapter({ connectionString: login.url })
  const schema = login.schema
  // An admin tenant of its own: with row-level security every store names a tenant.
  owner = createPgVectorStore({ adapter, schema, tenant: 'admin', rowLevelSecurity: true })
  storeA = createPgVectorStore({ adapter, schema, tenant: 'A', rowLevelSecurity: true })
  storeB = createPgVectorStore({ adapter, schema, tenant: 'B', rowLevelSecurity: true })
  await owner.createCollection(name, { dimension: 2 })
  const row = await adapter.get<{ id: number }>(
    `SELECT id FROM "${schema}".engram_collections WHERE name = ?`,
    [name],
  )
  table = `"${schema}"."engram_v${row?.id}"`
  await loadBothTenants()
})

afterAll(async () => {
  for (const store of [storeA, storeB, owner]) await store?.close()
  await adapter?.close()
  await login?.drop()
})

describe('row-level security', () => {
  it('refuses rowLevelSecurity without a tenant', () => {
    expect(() => createPgVectorStore({ adapter, schema: login.schema, rowLevelSecurity: true })).toThrow(
      /needs a tenant/,
    )
  })

  it('runs as a role that row-level security binds, on tables it owns with the policy forced', async () => {
    const role = await adapter.get<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
    )
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false })
    const info = await adapter.get(
      `SELECT pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
         (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
       FROM pg_class c WHERE c.oid = ?::regclass`,
      [table],
    )
    expect(info).toEqual({ owner: login.role, enabled: true, forced: true, policies: 1 })
  })

  it('tenant A cannot read, search or delete tenant B records through the store, even with crafted filters', async () => {
    expect(await storeA.get(name, ['b1', 'same'])).toMatchObject([{ id: 'same', metadata: { owner: 'a' } }])
    expect(await storeA.count(name)).toBe(2)
    expect(await storeA.count(name, { tenant_id: 'B' })).toBe(0)
    expect(await storeA.count(name, { $or: [{ tenant_id: 'B' }, { tenant_id: { $ne: 'B' } }] })).toBe(2)
    const hits = await storeA.query(name, { vector: [1, 0], text: 'shared words b1', topK: 10 })
    expect(hits.map((m) => m.id).sort()).toEqual(['a1', 'same'])
    expect(await storeA.query(name, { text: 'b1', topK: 10 })).toEqual([])
    expect(await storeA.delete(name, { ids: ['b1'] })).toBe(0)
    expect(
      await storeA.delete(name, { filter: { $or: [{ tenant_id: 'B' }, { tenant_id: { $exists: true } }] } }),
    ).toBe(0)
    expect(await storeB.count(name)).toBe(2)
    expect((await storeB.get(name, ['same']))[0]?.metadata).toEqual({ tenant_id: 'B' })
  })

  it("raw SQL in a transaction whose app.tenant_id is A never sees, changes or deletes B's rows", async () => {
    await asTenant('A', async (tx) => {
      expect(await rawCount(tx)).toBe(2)
      expect(await tx.get(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = 'B'`)).toEqual({ n: 0 })
      expect((await tx.run(`UPDATE ${table} SET text = 'taken' WHERE tenant_id = 'B'`)).changes).toBe(0)
      expect((await tx.run(`DELETE FROM ${table}`)).changes).toBe(2)
    })
    expect(await storeA.count(name)).toBe(0)
    expect(await storeB.count(name)).toBe(2)
    // WITH CHECK: A can neither write a row for B nor move its own row to B.
    await expect(
      asTenant('A', (tx) =>
        tx.run(`INSERT INTO ${table} (tenant_id, id, embedding) VALUES ('B', 'forged', '[1,1]')`),
      ),
    ).rejects.toThrow(/row-level security/)
    await loadBothTenants()
    await expect(
      asTenant('A', (tx) => tx.run(`UPDATE ${table} SET tenant_id = 'B' WHERE id = 'a1'`)),
    ).rejects.toThrow(/row-level security/)
    expect(await storeB.get(name, ['forged', 'a1'])).toEqual([])
    // A session that never sets app.tenant_id sees no tenant's rows at all.
    expect(await rawCount(adapter)).toBe(0)
  })

  it('the raw SQL checks depend on the policy: with row-level security off they see every tenant', async () => {
    const off = new Error('roll back')
    await expect(
      asTenant('A', async (tx) => {
        await tx.exec(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`)
        expect(await rawCount(tx)).toBe(4)
        throw off
      }),
    ).rejects.toBe(off)
    expect(await asTenant('A', rawCount)).toBe(2)
  })

  it('createCollection adds the policy to an existing collection made without it', async () => {
    const plain = createPgVectorStore({ adapter, schema: login.schema })
    try {
      await plain.createCollection('legacy', { dimension: 2 })
      await plain.upsert('legacy', [record('p1', [1, 0], {})])
      await storeA.createCollection('legacy', { dimension: 2 })
      const policies = await adapter.get(
        `SELECT count(*) AS n FROM pg_policies WHERE schemaname = ? AND policyname = 'engram_tenant'`,
        [login.schema],
      )
      expect(policies).toEqual({ n: 2 })
      expect(await storeA.count('legacy')).toBe(0)
      // The row stored under the empty tenant is now hidden from every session, the plain store's included.
      expect(await plain.count('legacy')).toBe(0)
    } finally {
      await owner.dropCollection('legacy')
      await plain.close()
    }
  })
})

// The shared suite with the policy enforced, on a tenant-scoped store (the plain store's run is in pg-vector-store.test.ts).
describeVectorStore(
  'pgvector (row-level security, tenant-scoped)',
  async () =>
    createPgVectorStore({ adapter, schema: login.schema, tenant: 'tenant-r', rowLevelSecurity: true }),
  { groups: { lifecycle: false } },
)
