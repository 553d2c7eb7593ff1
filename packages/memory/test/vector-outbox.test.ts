import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter, VectorStore } from '@engram/core'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-outbox-'))
let files = 0
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const embed = createLocalEmbedder({ dimensions: 32 })

/** Two SQLite files: the memory's rows in one, its vectors in the other, as with a remote vector store. */
function twoDatabases(): { rows: string; vectors: string } {
  return { rows: join(folder, `rows-${++files}.db`), vectors: join(folder, `vectors-${files}.db`) }
}

function adapter(file: string): StorageAdapter {
  const opened = createSqliteNativeAdapter({ filename: file })
  onTestFinished(() => opened.close())
  return opened
}

async function openMemory(storage: StorageAdapter, vectors: VectorStore): Promise<Memory> {
  const memory = await Memory.open({ storage, vectors, embed })
  onTestFinished(() => memory.close())
  return memory
}

async function vectorIds(memory: Memory): Promise<string[]> {
  const ids: string[] = []
  for await (const batch of memory.vectors.scan(memory.collection)) ids.push(...batch.map((r) => r.id))
  return ids.sort()
}

async function outbox(memory: Memory): Promise<number> {
  return Number(
    (await memory.storage.get<{ n: number }>('SELECT COUNT(*) AS n FROM engram_vector_outbox'))?.n,
  )
}

describe('Memory with its vectors in another database', () => {
  it('keeps the store in step through remember, forget, documents and conversation deletes, leaving the outbox empty', async () => {
    const files = twoDatabases()
    const memory = await openMemory(
      adapter(files.rows),
      createSqliteVectorStore({ adapter: adapter(files.vectors) }),
    )
    const kept = await memory.remember('green tea in the morning', { scope: 'ada' })
    const gone = await memory.remember('coffee at night', { scope: 'ada' })
    await memory.conversations.storeConversationTurn('ada', 'c1', { role: 'user', content: 'hi' })
    await memory.remember('from the conversation', { userId: 'ada', conversationId: 'c1' })
    const { documentId } = await memory.ingest('A short document about kites.')
    expect(await outbox(memory)).toBe(0)
    expect((await memory.recall('green tea', { scope: 'ada' }))[0]?.trace.id).toBe(kept.id)
    expect(await memory.forget(gone.id)).toBe(true)
    await memory.conversations.deleteConversation('ada', 'c1')
    expect(await memory.forgetDocument(documentId)).toBe(1)
    expect(await vectorIds(memory)).toEqual([kept.id])
    expect(await outbox(memory)).toBe(0)
  })

  it('takes a trace back when the store fails after the row committed, and finishes queued work once the store is back', async () => {
    const files = twoDatabases()
    const storage = adapter(files.rows)
    const vectorsAdapter = createSqliteNativeAdapter({ filename: files.vectors })
    const memory = await openMemory(storage, createSqliteVectorStore({ adapter: vectorsAdapter }))
    const kept = await memory.remember('kept before the store went away')
    // The store's database becomes unreachable: every write to it now fails.
    await vectorsAdapter.close()
    await expectStorageError(memory.remember('written while the store was away'), 'CLOSED')
    expect(await memory.count()).toBe(1)
    const failedForget = await expectStorageError(memory.forget(kept.id), 'CLOSED')
    expect(failedForget.message).toMatch(/traces are deleted.*retried by the next write, recall or open/)
    expect(await memory.count()).toBe(0)
    expect(await outbox(memory)).toBeGreaterThan(0)
    await memory.close()

    // Back again: opening replays the outbox, so the store ends exactly as the rows say.
    const again = await openMemory(storage, createSqliteVectorStore({ adapter: adapter(files.vectors) }))
    expect(await outbox(again)).toBe(0)
    expect(await vectorIds(again)).toEqual([])
  })

  it('removes the vector again when another process forgets the trace while the vector is on its way', async () => {
    const files = twoDatabases()
    const storage = adapter(files.rows)
    const real = createSqliteVectorStore({ adapter: adapter(files.vectors) })
    let racing = false
    // Another process's forget lands between this memory's commit and its vector write (its own
    // vector delete finds nothing yet): the trace row is gone by the time the vector arrives.
    const store = new Proxy(real, {
      get(target, key) {
        if (key === 'upsert') {
          return async (collection: string, records: Parameters<VectorStore['upsert']>[1]) => {
            if (racing) {
              const other = adapter(files.rows)
              for (const record of records)
                await other.run('DELETE FROM engram_traces WHERE id = ?', [record.id])
            }
            return target.upsert(collection, records)
          }
        }
        const value = Reflect.get(target, key)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const memory = await openMemory(storage, store)
    await memory.remember('stays')
    racing = true
    await memory.remember('forgotten mid-flight')
    racing = false
    expect(await memory.count()).toBe(1)
    const traces = (await storage.all<{ id: string }>('SELECT id FROM engram_traces')).map((r) => r.id)
    expect(await vectorIds(memory)).toEqual(traces)
  })

  it('skips a queued vector whose trace is gone by the time the outbox is replayed', async () => {
    const files = twoDatabases()
    const storage = adapter(files.rows)
    const vectorsAdapter = createSqliteNativeAdapter({ filename: files.vectors })
    const memory = await openMemory(storage, createSqliteVectorStore({ adapter: vectorsAdapter }))
    await vectorsAdapter.close()
    await expectStorageError(memory.remember('never reaches the store'), 'CLOSED')
    await memory.close()
    // The queued upsert is still there; its trace was taken back, so replaying must not write it.
    expect(
      Number(
        (
          await storage.get<{ n: number }>(
            "SELECT COUNT(*) AS n FROM engram_vector_outbox WHERE op = 'upsert'",
          )
        )?.n,
      ),
    ).toBe(1)
    const again = await openMemory(storage, createSqliteVectorStore({ adapter: adapter(files.vectors) }))
    expect(await vectorIds(again)).toEqual([])
    expect(await outbox(again)).toBe(0)
  })
})
