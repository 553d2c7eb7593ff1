import type { SqlParams, StorageAdapter } from '@engram/core'
import { describe, expect, it } from 'vitest'
import { changedRows, countChanged } from '../src/changed-rows.js'
import { openAdapter } from './helpers.js'

/** A vector table as a collection has it (label, vector, seq with its index): 3,000 rows at seq 1, three at seq 2, one at seq 3. */
async function table(db: StorageAdapter): Promise<void> {
  await db.exec(`CREATE TABLE v (label INTEGER PRIMARY KEY, vector BLOB, seq INTEGER NOT NULL);
    CREATE INDEX v_seq ON v(seq);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
    INSERT INTO v (label, vector, seq) SELECT i, x'00', 1 FROM n;
    UPDATE v SET seq = 2 WHERE label IN (2000, 10, 1500);
    UPDATE v SET seq = 3 WHERE label = 5`)
}

describe('changedRows', () => {
  it('reads the rows written after a sequence in (seq, label) pages, through the seq index', async () => {
    const statements: Array<{ sql: string; params: unknown[] }> = []
    const db = openAdapter()
    await table(db)
    const watched = new Proxy(db, {
      get(target, key, receiver) {
        if (key === 'all') {
          return (sql: string, params?: SqlParams) => {
            statements.push({ sql, params: [...((params as unknown[] | undefined) ?? [])] })
            return target.all(sql, params)
          }
        }
        const value = Reflect.get(target, key, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const pages: number[][] = []
    for await (const page of changedRows<{ label: number; seq: number }>(watched, 'v', 'label', 1, 2)) {
      pages.push(page.map((row) => row.label))
    }
    // In (seq, label) order: a later write's lower label comes after the earlier write's rows.
    expect(pages).toEqual([
      [10, 1500],
      [2000, 5],
    ])
    expect(await countChanged(db, 'v', 1, 100)).toBe(4)
    expect(await countChanged(db, 'v', 0, 100)).toBe(101) // counted up to the limit, then one past it
    // Every page is an index search, never a walk of the whole table by label.
    for (const { sql, params } of statements) {
      const plan = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params as SqlParams)
      expect(plan.map((row) => row.detail).join(' / ')).toMatch(/USING (COVERING )?INDEX v_seq/)
    }
  })
})
