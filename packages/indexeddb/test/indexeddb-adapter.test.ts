import { StorageError } from '@engram/core'
import { IDBFactory, IDBObjectStore } from 'fake-indexeddb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createIndexedDbAdapter,
  type IndexedDbAdapter,
  type IndexedDbConfig,
  indexedDbName,
  LocalLockManager,
} from '../src/index.js'

// Each test gets its own fake profile (IndexedDB) and lock manager, as one browser would give its tabs.
let indexedDB = new IDBFactory()
let locks = new LocalLockManager()
let counter = 0
const opened: IndexedDbAdapter[] = []

afterEach(async () => {
  for (const adapter of opened.splice(0)) await adapter.close().catch(() => undefined)
  vi.unstubAllGlobals()
  indexedDB = new IDBFactory()
  locks = new LocalLockManager()
})

async function open(name: string, config: Partial<IndexedDbConfig> = {}): Promise<IndexedDbAdapter> {
  const adapter = await createIndexedDbAdapter({ name, indexedDB, locks, ...config })
  opened.push(adapter)
  return adapter
}

function newName(): string {
  return `db-${++counter}`
}

/** What IndexedDB holds now, read by a separate adapter that is closed again. */
async function savedIds(name: string, table = 'item'): Promise<number[]> {
  const reader = await createIndexedDbAdapter({ name, indexedDB, locks })
  try {
    const exists = await reader.get(`SELECT 1 AS ok FROM sqlite_schema WHERE name = ?`, [table])
    if (!exists) return []
    const rows = await reader.all<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)
    return rows.map((row) => row.id)
  } finally {
    await reader.close()
  }
}

/** The version number stored beside the image, read straight from IndexedDB. */
async function savedVersion(name: string): Promise<number> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(indexedDbName(name))
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
  try {
    if (!db.objectStoreNames.contains('sqlite')) return 0
    return await new Promise<number>((resolve, reject) => {
      const request = db.transaction('sqlite', 'readonly').objectStore('sqlite').get('meta')
      request.onsuccess = () => resolve((request.result as { version?: number } | undefined)?.version ?? 0)
      request.onerror = () => reject(request.error)
    })
  } finally {
    db.close()
  }
}

async function rejection(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(StorageError)
  return error as StorageError
}

/** Makes `globalThis` an event target, as a window is, so page lifecycle events can be sent in Node. */
function stubWindowEvents(): EventTarget {
  const target = new EventTarget()
  vi.stubGlobal('addEventListener', target.addEventListener.bind(target))
  vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target))
  return target
}

describe('commit durability', () => {
  it('has the row in IndexedDB as soon as run() resolves', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.run('INSERT INTO item VALUES (1)')
    // The writer stays open: the row must already be saved, not saved on close.
    expect(await savedIds(name)).toEqual([1])
  })

  it('saves a committed transaction once, and nothing while it is open', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const before = await savedVersion(name)
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO item VALUES (1)')
      await tx.run('INSERT INTO item VALUES (2)')
      expect(await savedVersion(name)).toBe(before)
      expect(await savedIds(name)).toEqual([])
    })
    expect(await savedVersion(name)).toBe(before + 1)
    expect(await savedIds(name)).toEqual([1, 2])
  })

  it('saves nothing for reads or a rolled-back transaction', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const before = await savedVersion(name)
    await db.all('SELECT * FROM item')
    await db.get('SELECT count(*) AS n FROM item')
    await db
      .transaction(async (tx) => {
        await tx.run('INSERT INTO item VALUES (1)')
        throw new Error('undo')
      })
      .catch(() => undefined)
    expect(await savedVersion(name)).toBe(before)
  })

  it('saves a write made through get() with RETURNING', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    expect(await db.get('INSERT INTO item VALUES (7) RETURNING id')).toEqual({ id: 7 })
    expect(await savedIds(name)).toEqual([7])
  })

  it('keeps the data across close and reopen', async () => {
    const name = newName()
    const first = await open(name)
    await first.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await first.run('INSERT INTO item VALUES (3)')
    await first.close()
    const second = await open(name)
    expect(await second.all('SELECT id FROM item')).toEqual([{ id: 3 }])
  })
})

describe('relaxed durability', () => {
  it('resolves writes before they are saved, and saves them on flush()', async () => {
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 60_000 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.run('INSERT INTO item VALUES (1)')
    expect(await savedVersion(name)).toBe(0)
    await db.flush()
    expect(await savedIds(name)).toEqual([1])
  })

  it('saves a burst of writes as one image shortly after, without being asked', async () => {
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 20 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    for (let id = 1; id <= 20; id++) await db.run('INSERT INTO item VALUES (?)', [id])
    await vi.waitFor(async () => expect(await savedVersion(name)).toBeGreaterThan(0), { timeout: 5_000 })
    expect(await savedVersion(name)).toBe(1)
    expect(await savedIds(name)).toHaveLength(20)
  })

  it('saves pending writes when the page is hidden (pagehide)', async () => {
    const window = stubWindowEvents()
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 60_000 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.run('INSERT INTO item VALUES (1)')
    window.dispatchEvent(new Event('pagehide'))
    await vi.waitFor(async () => expect(await savedIds(name)).toEqual([1]), { timeout: 5_000 })
  })

  it('saves pending writes when the document becomes hidden (visibilitychange)', async () => {
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' })
    vi.stubGlobal('document', document)
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 60_000 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.run('INSERT INTO item VALUES (1)')
    document.dispatchEvent(new Event('visibilitychange'))
    // Still visible: nothing to do yet.
    expect(await savedVersion(name)).toBe(0)
    document.visibilityState = 'hidden'
    document.dispatchEvent(new Event('visibilitychange'))
    await vi.waitFor(async () => expect(await savedIds(name)).toEqual([1]), { timeout: 5_000 })
  })

  it('saves pending writes on close()', async () => {
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 60_000 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.run('INSERT INTO item VALUES (1)')
    await db.close()
    expect(await savedIds(name)).toEqual([1])
  })

  it('never saves the inside of an open transaction', async () => {
    const name = newName()
    const db = await open(name, { durability: 'relaxed', flushDelay: 60_000 })
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.flush()
    let flushed: Promise<void> | undefined
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO item VALUES (1)')
      flushed = db.flush()
      await tx.run('INSERT INTO item VALUES (2)')
      expect(await savedIds(name)).toEqual([])
    })
    await flushed
    expect(await savedIds(name)).toEqual([1, 2])
  })
})

describe('several adapters (tabs) on one database', () => {
  it('keeps a change whose save failed, even when another adapter writes next', async () => {
    const name = newName()
    const a = await open(name)
    const b = await open(name)
    await a.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    // One refused save, as a full quota would give.
    const put = IDBObjectStore.prototype.put
    const refuse = vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
    })
    try {
      expect((await rejection(a.run('INSERT INTO item VALUES (1)'))).code).toBe('PERSIST_FAILED')
    } finally {
      refuse.mockRestore()
    }
    expect(IDBObjectStore.prototype.put).toBe(put)
    // b waits for a's lock instead of saving over a's unsaved row; a's flush() saves it and lets b go.
    const later = b.run('INSERT INTO item VALUES (2)')
    await a.flush()
    await later
    expect(await savedIds(name)).toEqual([1, 2])
  })

  it('keeps working, and saves its copy again, after the stored database is deleted', async () => {
    const name = newName()
    const a = await open(name)
    await a.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await a.run('INSERT INTO item VALUES (1)')
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(indexedDbName(name))
      request.onsuccess = () => resolve()
      request.onerror = () => reject(request.error)
    })
    await a.run('INSERT INTO item VALUES (2)')
    expect(await savedIds(name)).toEqual([1, 2])
  })

  it('keeps every committed row when two adapters write interleaved', async () => {
    const name = newName()
    const a = await open(name)
    const b = await open(name)
    await a.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, tab TEXT)')
    await b.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, tab TEXT)')
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 25; i++) {
      writes.push(a.run('INSERT INTO item VALUES (?, ?)', [i * 2, 'a']))
      writes.push(b.run('INSERT INTO item VALUES (?, ?)', [i * 2 + 1, 'b']))
    }
    await Promise.all(writes)
    const all = Array.from({ length: 50 }, (_, i) => i)
    expect(await savedIds(name)).toEqual(all)
    // Each adapter also reads the other's rows, once the other's broadcast arrives.
    for (const db of [a, b]) {
      await vi.waitFor(async () => expect(await db.get('SELECT count(*) AS n FROM item')).toEqual({ n: 50 }))
    }
  })

  it('never loses an increment when two adapters run read-modify-write transactions', async () => {
    const name = newName()
    const a = await open(name)
    await a.exec(
      'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO counter VALUES (1, 0)',
    )
    const b = await open(name)
    const increment = (db: IndexedDbAdapter) =>
      db.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>('SELECT n FROM counter WHERE id = 1')
        await tx.run('UPDATE counter SET n = ? WHERE id = 1', [(row?.n ?? 0) + 1])
      })
    const work: Promise<unknown>[] = []
    for (let i = 0; i < 20; i++) work.push(increment(a), increment(b))
    await Promise.all(work)
    const reader = await open(name)
    expect(await reader.get('SELECT n FROM counter')).toEqual({ n: 40 })
  })

  it('keeps every row when two relaxed adapters write interleaved', async () => {
    const name = newName()
    const a = await open(name, { durability: 'relaxed', flushDelay: 5 })
    const b = await open(name, { durability: 'relaxed', flushDelay: 5 })
    await a.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY)')
    await b.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY)')
    for (let i = 0; i < 10; i++) {
      await Promise.all([
        a.run('INSERT INTO item VALUES (?)', [i * 2]),
        b.run('INSERT INTO item VALUES (?)', [i * 2 + 1]),
      ])
    }
    await Promise.all([a.flush(), b.flush()])
    expect(await savedIds(name)).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  it('lets a reader see another adapter’s commit without writing itself', async () => {
    const name = newName()
    const writer = await open(name)
    await writer.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const reader = await open(name)
    expect(await reader.all('SELECT id FROM item')).toEqual([])
    await writer.run('INSERT INTO item VALUES (1)')
    await vi.waitFor(async () => expect(await reader.all('SELECT id FROM item')).toEqual([{ id: 1 }]))
  })

  it('checks the saved version before each read where BroadcastChannel is missing', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const name = newName()
    const writer = await open(name)
    await writer.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const reader = await open(name)
    await writer.run('INSERT INTO item VALUES (1)')
    // No notification can arrive, so the read itself must notice the newer image.
    expect(await reader.all('SELECT id FROM item')).toEqual([{ id: 1 }])
  })

  it('takes the lock for a write made through iterate() with RETURNING', async () => {
    const name = newName()
    const a = await open(name)
    await a.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const b = await open(name)
    await b.run('INSERT INTO item VALUES (1)')
    const returned: unknown[] = []
    for await (const row of a.iterate('INSERT INTO item VALUES (2) RETURNING id')) returned.push(row)
    expect(returned).toEqual([{ id: 2 }])
    // a reloaded b's row before writing, so both survive.
    expect(await savedIds(name)).toEqual([1, 2])
  })

  it('takes the lock for a write that starts with WITH, made through all()', async () => {
    const name = newName()
    const a = await open(name)
    await a.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const b = await open(name)
    await b.run('INSERT INTO item VALUES (1)')
    const sql = 'WITH next(id) AS (SELECT 2) INSERT INTO item SELECT id FROM next RETURNING id'
    expect(await a.all(sql)).toEqual([{ id: 2 }])
    expect(await savedIds(name)).toEqual([1, 2])
  })

  it('fails a conflicting save instead of overwriting when adapters do not share locks', async () => {
    const name = newName()
    const a = await open(name, { locks: new LocalLockManager() })
    await a.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const b = await open(name, { locks: new LocalLockManager() })
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).run('INSERT INTO item VALUES (?)', [i])),
    )
    const saved = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [i] : []))
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected')
    // Ten concurrent writes from two unsynchronised writers always collide somewhere.
    expect(failed.length).toBeGreaterThan(0)
    for (const outcome of failed) {
      const reason = (outcome as PromiseRejectedResult).reason as StorageError
      // BUSY, not PERSIST_FAILED: this change is dropped, never retried over the other writer's.
      expect(reason.code).toBe('BUSY')
    }
    // Every write that was reported saved is in IndexedDB: a conflict fails, it never overwrites.
    const ids = await savedIds(name)
    expect(ids).toEqual(expect.arrayContaining(saved))
  })
})

describe('export and import', () => {
  it('exports an image that opens elsewhere with the same rows', async () => {
    const db = await open(newName())
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY); INSERT INTO item VALUES (1), (2)')
    const image = await db.export()
    const copy = await open(newName())
    await copy.import(image)
    expect(await copy.all('SELECT id FROM item')).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('saves an imported image and shows it to other adapters', async () => {
    const source = await open(newName())
    await source.exec('CREATE TABLE item (id INTEGER PRIMARY KEY); INSERT INTO item VALUES (5)')
    const image = await source.export()
    const name = newName()
    const a = await open(name)
    const b = await open(name)
    await a.import(image)
    expect(await savedIds(name)).toEqual([5])
    await vi.waitFor(async () => expect(await b.all('SELECT id FROM item')).toEqual([{ id: 5 }]))
  })

  it('rejects an image that is not a SQLite database and keeps the data', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY); INSERT INTO item VALUES (1)')
    expect((await rejection(db.import(new Uint8Array(200).fill(7)))).code).toBe('INVALID_ARGUMENT')
    expect(await savedIds(name)).toEqual([1])
  })
})

describe('configuration', () => {
  it('rejects a missing or unusable name with INVALID_ARGUMENT', async () => {
    for (const name of ['', 'a\u0000b', 'x'.repeat(201), 42]) {
      const error = await rejection(createIndexedDbAdapter({ name: name as string, indexedDB, locks }))
      expect(error.code).toBe('INVALID_ARGUMENT')
      expect(error.message).toContain('name')
    }
  })

  it('rejects an unknown durability', async () => {
    const error = await rejection(
      createIndexedDbAdapter({ name: 'x', indexedDB, locks, durability: 'eventually' as 'commit' }),
    )
    expect(error.code).toBe('INVALID_ARGUMENT')
  })

  it('is UNSUPPORTED without IndexedDB, and says what to do', async () => {
    const error = await rejection(createIndexedDbAdapter({ name: 'x', locks }))
    expect(error.code).toBe('UNSUPPORTED')
    expect(error.message).toContain('fake-indexeddb')
  })

  it('is UNSUPPORTED without Web Locks, and says what to do', async () => {
    const error = await rejection(createIndexedDbAdapter({ name: 'x', indexedDB }))
    expect(error.code).toBe('UNSUPPORTED')
    expect(error.message).toContain('https://')
  })

  it('reports a damaged stored image with CONNECTION_FAILED and how to recover', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    await db.close()
    const raw = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(indexedDbName(name))
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    await new Promise<void>((resolve, reject) => {
      const tx = raw.transaction('sqlite', 'readwrite')
      tx.objectStore('sqlite').put(new Uint8Array(4096).fill(1).buffer, 'image')
      tx.oncomplete = () => resolve()
      tx.onabort = () => reject(tx.error)
    })
    raw.close()
    const error = await rejection(createIndexedDbAdapter({ name, indexedDB, locks }))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toContain(`indexedDB.deleteDatabase("engram:${name}")`)
  })

  it('keeps its data in an IndexedDB database of its own', async () => {
    const name = newName()
    const db = await open(name)
    await db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)')
    const names = (await indexedDB.databases()).map((info) => info.name)
    expect(names).toContain(`engram:${name}`)
    expect(db.kind).toBe('indexeddb')
    expect(db.capabilities.persistence).toBe('browser')
  })
})
