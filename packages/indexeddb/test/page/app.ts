// The page the Chromium tests drive: it bundles the driver as an app would, through the
// register entry, and exposes a few calls on `window.engramTest` for page.evaluate().
import { createDatabase, type DriverChoice, type StorageAdapter } from '@engram/core'
import '../../src/register.js'
import { createIndexedDbAdapter, type IndexedDbDurability } from '../../src/index.js'

const open = new Map<string, StorageAdapter>()

function adapter(name: string): StorageAdapter {
  const db = open.get(name)
  if (!db) throw new Error(`open("${name}") first`)
  return db
}

const api = {
  /** Opens `name` and makes sure it has the `item` table. */
  async open(name: string, durability: IndexedDbDurability = 'commit', flushDelay?: number): Promise<void> {
    const db = await createIndexedDbAdapter({
      name,
      durability,
      ...(flushDelay === undefined ? {} : { flushDelay }),
    })
    await db.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, tab TEXT)')
    open.set(name, db)
  },
  /** Inserts each id as its own write, all started at once. */
  async insert(name: string, ids: number[], tab: string): Promise<void> {
    const db = adapter(name)
    await Promise.all(ids.map((id) => db.run('INSERT INTO item (id, tab) VALUES (?, ?)', [id, tab])))
  },
  /** The ids this tab sees. */
  async ids(name: string): Promise<number[]> {
    const rows = await adapter(name).all<{ id: number }>('SELECT id FROM item ORDER BY id')
    return rows.map((row) => row.id)
  },
  async close(name: string): Promise<void> {
    await adapter(name).close()
    open.delete(name)
  },
  /** Opens with `type: 'auto'` and reports what was picked. */
  async auto(
    name: string,
    hideIndexedDb = false,
  ): Promise<{ kind: string; choice: DriverChoice | undefined }> {
    if (hideIndexedDb)
      Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true })
    let choice: DriverChoice | undefined
    const db = await createDatabase({
      type: 'auto',
      name,
      onSelect: (picked) => {
        choice = picked
      },
    })
    await db.close()
    return { kind: db.kind, choice }
  },
}

/** What the tests call through page.evaluate(). */
export type EngramTestApi = typeof api

;(globalThis as { engramTest?: EngramTestApi }).engramTest = api
