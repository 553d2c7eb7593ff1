import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { seededRandom } from '@engram/conformance'
import { CONVERSATIONS_TABLE, ConversationMemory, Memory, TRACES_TABLE, TURNS_TABLE } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, describe, expect, it } from 'vitest'
import { printFigures, runSeed, scaled } from '../src/figures.js'
import { randomKillPoint, runUntilKilled, workerPath } from '../src/kill-child.js'
// @ts-expect-error: a plain ES module shared with the worker, without type declarations.
import { DIMENSION, deletable, vectorOf } from '../src/workers/vector-shapes.mjs'

// kill -9 at random points while a child process writes through the layers above the SQL
// drivers: the ANN tier's HNSW sidecar, Memory (traces and their vectors) and ConversationMemory.
// After each kill the parent reopens the file and checks it against what was acknowledged.
const FILE = 'kill-memory-tiers'
const ROUNDS = scaled(20)
const seed = runSeed()
const folder = mkdtempSync(join(tmpdir(), 'engram-kill-memory-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

type VectorOf = (n: number, version: number) => Float32Array
const shape = vectorOf as VectorOf
const mayBeDeleted = deletable as (n: number) => boolean

async function integrity(file: string): Promise<string> {
  const db = createSqliteNativeAdapter({ filename: file })
  try {
    return (await db.all<{ integrity_check: string }>('PRAGMA integrity_check'))
      .map((r) => r.integrity_check)
      .join('; ')
  } finally {
    await db.close()
  }
}

describe(`kill -9 through the memory tiers, ${ROUNDS} rounds each (seed ${seed})`, () => {
  it('the ANN tier: every acknowledged vector is stored as written, and the HNSW index holds exactly the table after reopen', async () => {
    const random = seededRandom(seed)
    const file = join(folder, 'ann.db')
    const acked = new Map<number, number>()
    const deleted = new Set<number>()
    const sources: Record<string, number> = { file: 0, rebuilt: 0 }
    let records = 0
    for (let round = 0; round < ROUNDS; round++) {
      const killed = await runUntilKilled(
        workerPath('ann-writer'),
        [file, String(seed + round)],
        randomKillPoint(random, 40),
      )
      for (const ack of killed.acks as Array<{ upserted?: [number, number][]; deleted?: number[] }>) {
        for (const [n, version] of ack.upserted ?? []) acked.set(n, version)
        for (const n of ack.deleted ?? []) {
          acked.delete(n)
          deleted.add(n)
        }
      }
      expect(await integrity(file), `round ${round}`).toBe('ok')
      const adapter = createSqliteNativeAdapter({ filename: file })
      const store = createSqliteVectorStore({
        adapter,
        ann: { path: file, persistEvery: 25 },
        exactBelow: 16,
      })
      try {
        const stored = new Map<string, { n: number; v: number; vector: Float32Array }>()
        for await (const batch of store.scan('docs', { batchSize: 500 })) {
          for (const r of batch) {
            const { n, v } = r.metadata as { n: number; v: number }
            stored.set(r.id, { n, v, vector: r.vector as Float32Array })
          }
        }
        for (const [n, version] of acked) {
          const record = stored.get(`r${n}`)
          if (record === undefined) {
            expect(mayBeDeleted(n), `round ${round}: acknowledged r${n} is missing`).toBe(true)
            continue
          }
          // A later replacement may have committed before the kill, never an earlier one.
          expect(record.v, `round ${round}: r${n} went back to an older version`).toBeGreaterThanOrEqual(
            version,
          )
        }
        for (const n of deleted)
          expect(stored.has(`r${n}`), `round ${round}: deleted r${n} is back`).toBe(false)
        for (const [id, record] of stored) {
          expect([...record.vector], `round ${round}: ${id} is half-stored`).toEqual([
            ...shape(record.n, record.v),
          ])
        }
        // The first search after reopening catches the index up; then it must hold exactly the table.
        const everything = await store.query('docs', { vector: shape(0, 0), topK: stored.size })
        const status = await store.annStatus('docs')
        expect(status).toMatchObject({ open: true, size: stored.size, appliedSequence: status.sequence })
        sources[status.source ?? 'file'] = (sources[status.source ?? 'file'] ?? 0) + 1
        expect(everything.map((m) => m.id).sort()).toEqual([...stored.keys()].sort())
        for (const [id, record] of [...stored].slice(-20)) {
          const [top] = await store.query('docs', { vector: shape(record.n, record.v), topK: 1 })
          expect(top?.id, `round ${round}: the index answers ${id} with a stale vector`).toBe(id)
        }
        records = stored.size
      } finally {
        await store.close()
        await adapter.close()
      }
    }
    expect(acked.size).toBeGreaterThan(ROUNDS)
    printFigures(FILE, 'ANN tier (HNSW sidecar)', {
      kills: ROUNDS,
      acknowledgedRecords: acked.size,
      acknowledgedDeletes: deleted.size,
      recordsAtEnd: records,
      lost: 0,
      halfStored: 0,
      indexLoadedFromFile: sources.file ?? 0,
      indexRebuilt: sources.rebuilt ?? 0,
      dimension: DIMENSION as number,
    })
  })

  it('Memory: every acknowledged trace is recalled, forgotten ones stay gone, and no trace is without its vector or a vector without its trace', async () => {
    const random = seededRandom(seed + 1)
    const file = join(folder, 'memory.db')
    const remembered = new Map<string, { text: string; forgettable: boolean }>()
    const forgotten = new Set<string>()
    let orphanTraces = 0
    let orphanVectors = 0
    let traces = 0
    for (let round = 0; round < ROUNDS; round++) {
      const killed = await runUntilKilled(
        workerPath('memory-writer'),
        [file, String(seed + round), String(round)],
        randomKillPoint(random, 30),
      )
      for (const ack of killed.acks as Array<{
        remembered?: string
        text?: string
        forgettable?: boolean
        forgotten?: string
      }>) {
        if (ack.remembered)
          remembered.set(ack.remembered, { text: ack.text ?? '', forgettable: ack.forgettable === true })
        if (ack.forgotten) {
          remembered.delete(ack.forgotten)
          forgotten.add(ack.forgotten)
        }
      }
      expect(await integrity(file), `round ${round}`).toBe('ok')
      const memory = await Memory.open({ path: file, exactBelow: 16 })
      try {
        const rows = await memory.storage.all<{ id: string }>(`SELECT id FROM ${TRACES_TABLE}`)
        const ids = new Set(rows.map((row) => row.id))
        const vectors = new Set<string>()
        for await (const batch of memory.vectors.scan(memory.collection, { batchSize: 500 })) {
          for (const record of batch) vectors.add(record.id)
        }
        orphanTraces = [...ids].filter((id) => !vectors.has(id)).length
        orphanVectors = [...vectors].filter((id) => !ids.has(id)).length
        expect({ orphanTraces, orphanVectors }, `round ${round}`).toEqual({
          orphanTraces: 0,
          orphanVectors: 0,
        })
        for (const [id, trace] of remembered) {
          if (!ids.has(id)) {
            expect(trace.forgettable, `round ${round}: acknowledged trace ${id} is missing`).toBe(true)
            continue
          }
          expect((await memory.get(id))?.text).toBe(trace.text)
        }
        for (const id of forgotten)
          expect(ids.has(id) || vectors.has(id), `round ${round}: forgotten ${id} is back`).toBe(false)
        // Recall finds the newest acknowledged traces by their own marker word.
        for (const [id, trace] of [...remembered].slice(-5)) {
          if (!ids.has(id)) continue
          const hits = await memory.recall(trace.text, { scope: 'user:kill', topK: 3 })
          expect(
            hits.map((hit) => hit.trace.id),
            `round ${round}: recall misses ${id}`,
          ).toContain(id)
        }
        traces = ids.size
      } finally {
        await memory.close()
      }
    }
    expect(remembered.size).toBeGreaterThan(ROUNDS)
    printFigures(FILE, 'Memory (remember/forget on the embedded default)', {
      kills: ROUNDS,
      acknowledgedRemembers: remembered.size + forgotten.size,
      acknowledgedForgets: forgotten.size,
      tracesAtEnd: traces,
      orphanTraces,
      orphanVectors,
      lost: 0,
    })
  })

  it('ConversationMemory: every acknowledged turn is stored whole, deleted conversations stay deleted, no turn is without its conversation', async () => {
    const random = seededRandom(seed + 2)
    const file = join(folder, 'conversations.db')
    const stored = new Map<string, { user: string; conversation: string; length: number }>()
    const deleted: Array<[string, string]> = []
    let turns = 0
    for (let round = 0; round < ROUNDS; round++) {
      const killed = await runUntilKilled(
        workerPath('conversation-writer'),
        [file, String(seed + round), String(round)],
        randomKillPoint(random, 40),
      )
      for (const ack of killed.acks as Array<{
        stored?: [string, string, string, number]
        deletedConversation?: [string, string]
      }>) {
        if (ack.stored) {
          const [user, conversation, storageId, length] = ack.stored
          stored.set(storageId, { user, conversation, length })
        }
        if (ack.deletedConversation) deleted.push(ack.deletedConversation)
      }
      expect(await integrity(file), `round ${round}`).toBe('ok')
      const memory = await ConversationMemory.open(file)
      try {
        const db = memory.storage
        const orphans = await db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM ${TURNS_TABLE} t WHERE NOT EXISTS (SELECT 1 FROM ${CONVERSATIONS_TABLE} c
             WHERE c.user_id = t.user_id AND c.conversation_id = t.conversation_id)`,
        )
        expect(Number(orphans?.n), `round ${round}: turns without their conversation`).toBe(0)
        const behind = await db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM ${CONVERSATIONS_TABLE} c WHERE c.last_activity < (SELECT MAX(t.created_at) FROM ${TURNS_TABLE} t
             WHERE t.user_id = c.user_id AND t.conversation_id = c.conversation_id)`,
        )
        expect(
          Number(behind?.n),
          `round ${round}: conversations whose last activity is behind their turns`,
        ).toBe(0)
        const byConversation = new Map<string, Map<string, number>>()
        for (const { user, conversation } of stored.values()) {
          const key = `${user}\u0001${conversation}`
          if (byConversation.has(key)) continue
          const found = await memory.retrieveConversationTurns(user, conversation, { limit: 100_000 })
          byConversation.set(key, new Map(found.map((turn) => [turn.storageId, (turn.content ?? '').length])))
        }
        for (const [storageId, turn] of stored) {
          const found = byConversation.get(`${turn.user}\u0001${turn.conversation}`)?.get(storageId)
          expect(found, `round ${round}: acknowledged turn ${storageId} is missing or changed`).toBe(
            turn.length,
          )
        }
        for (const [user, conversation] of deleted) {
          expect(
            await memory.getConversation(user, conversation),
            `round ${round}: ${conversation} is back`,
          ).toBeUndefined()
          expect(await memory.retrieveConversationTurns(user, conversation)).toEqual([])
        }
        turns = Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${TURNS_TABLE}`))?.n)
      } finally {
        await memory.close()
      }
    }
    expect(stored.size).toBeGreaterThan(ROUNDS)
    printFigures(FILE, 'ConversationMemory (turns and deleted conversations)', {
      kills: ROUNDS,
      acknowledgedTurns: stored.size,
      acknowledgedDeletedConversations: deleted.length,
      turnsAtEnd: turns,
      orphanTurns: 0,
      lost: 0,
    })
  })
})
