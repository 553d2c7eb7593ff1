import { type ChildProcess, fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { seededRandom } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { createPostgresAdapter } from '@engram/postgres'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import { createSqliteVectorStore } from '@engram/sqlite-vector'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { Memory } from '../src/memory.js'
import { compileMemorySource } from './compiled-memory.js'
import { PG_URL } from './storage-backends.js'

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.mjs', import.meta.url))
const source = compileMemorySource()
const folder = mkdtempSync(join(tmpdir(), 'engram-memory-crash-'))
let files = 0
const schemas: string[] = []
let admin: StorageAdapter | undefined

afterAll(async () => {
  source.remove()
  rmSync(folder, { recursive: true, force: true })
  if (admin) {
    for (const schema of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
  }
})

type StorageTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; schema: string }
type VectorsTarget = 'same' | 'factory' | { kind: 'sqlite-file'; file: string }
interface Setup {
  storage: StorageTarget
  vectors: VectorsTarget
}

const newFile = () => join(folder, `db-${++files}.sqlite`)

async function newSchema(): Promise<string> {
  admin ??= createPostgresAdapter({ connectionString: PG_URL, max: 1 })
  const schema = `engram_crash_${process.pid}_${Math.random().toString(16).slice(2, 10)}`
  await admin.exec(`CREATE SCHEMA ${schema}`)
  schemas.push(schema)
  return schema
}

/** Runs the child until it dies; resolves with the acknowledged writes it reported. */
function runChild(
  config: Setup & { scenario: string; killAt?: string; killOn?: 'storage' | 'vectors' },
  killAfter?: number,
): Promise<{ signal: NodeJS.Signals | null; acks: Array<Record<string, string>> }> {
  const child: ChildProcess = fork(CHILD, [JSON.stringify({ ...config, source: source.folder })], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  const acks: Array<Record<string, string>> = []
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.on('message', (message: Record<string, string>) => {
    if (message.op === 'survived') return
    acks.push(message)
    if (killAfter !== undefined && acks.length === killAfter) child.kill('SIGKILL')
  })
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ signal, acks })
      else reject(new Error(`the child was not killed (exit code ${code}): ${stderr}`))
    })
  })
}

/** Opens the memory the child used, as an application restarting after the crash would; closed when the test ends. */
async function reopen(setup: Setup): Promise<Memory> {
  const opened = await open(setup)
  onTestFinished(opened.close)
  return opened.memory
}

async function open(setup: Setup): Promise<{ memory: Memory; close: () => Promise<void> }> {
  const storage =
    setup.storage.kind === 'sqlite'
      ? createSqliteNativeAdapter({ filename: setup.storage.file })
      : createPostgresAdapter({
          connectionString: setup.storage.url,
          searchPath: [setup.storage.schema, 'public'],
        })
  const adapters = [storage]
  let vectors: ReturnType<typeof createSqliteVectorStore> | undefined
  if (typeof setup.vectors === 'object') {
    const adapter = createSqliteNativeAdapter({ filename: setup.vectors.file })
    adapters.push(adapter)
    vectors = createSqliteVectorStore({ adapter })
  }
  const memory = await Memory.open({
    storage,
    embed: createLocalEmbedder({ dimensions: 32 }),
    ...(vectors ? { vectors } : {}),
    ...(setup.vectors === 'factory' ? { vectors: (adapter) => createSqliteVectorStore({ adapter }) } : {}),
  })
  const close = async () => {
    await memory.close()
    await vectors?.close()
    for (const adapter of adapters) await adapter.close()
  }
  return { memory, close }
}

/** Every trace id and every vector id, sorted: a consistent memory has the same two lists. */
async function traceAndVectorIds(memory: Memory): Promise<{ traces: string[]; vectors: string[] }> {
  const traces = (await memory.storage.all<{ id: string }>('SELECT id FROM engram_traces')).map((r) => r.id)
  const vectors: string[] = []
  for await (const batch of memory.vectors.scan(memory.collection)) vectors.push(...batch.map((r) => r.id))
  return { traces: traces.sort(), vectors: vectors.sort() }
}

async function pendingOutbox(memory: Memory): Promise<number> {
  const row = await memory.storage.get<{ n: number }>('SELECT COUNT(*) AS n FROM engram_vector_outbox')
  return Number(row?.n)
}

const SQLITE_VECTORS = { insert: 'INSERT INTO engram_vec_\\d', remove: 'DELETE FROM engram_vec_\\d' }
const PG_VECTORS = { insert: 'INSERT INTO \\S*engram_v\\d', remove: 'DELETE FROM \\S*engram_v\\d' }
const TRACE_DELETE = 'DELETE FROM engram_traces'

const sameDatabase: Array<{ name: string; setup: () => Promise<Setup>; sql: typeof SQLITE_VECTORS }> = [
  {
    name: 'SQLite with its vectors in the same file',
    setup: async () => ({ storage: { kind: 'sqlite', file: newFile() }, vectors: 'same' }),
    sql: SQLITE_VECTORS,
  },
  {
    name: 'SQLite with a vectors factory on the same file',
    setup: async () => ({ storage: { kind: 'sqlite', file: newFile() }, vectors: 'factory' }),
    sql: SQLITE_VECTORS,
  },
  {
    name: 'PostgreSQL with pgvector in the same database',
    setup: async () => ({
      storage: { kind: 'postgres', url: PG_URL, schema: await newSchema() },
      vectors: 'same',
    }),
    sql: PG_VECTORS,
  },
]

for (const { name, setup, sql } of sameDatabase) {
  describe(`Memory killed with SIGKILL mid-write, on ${name}`, () => {
    it('never keeps a trace whose vector was not written (killed at the vector insert of remember)', async () => {
      const target = await setup()
      await runChild({ ...target, scenario: 'remember', killAt: sql.insert, killOn: 'storage' })
      const memory = await reopen(target)
      const { traces, vectors } = await traceAndVectorIds(memory)
      expect(vectors).toEqual(traces)
      expect(traces).toEqual([])
    })

    for (const [point, killAt] of [
      ['the trace delete', TRACE_DELETE],
      ['the vector delete', sql.remove],
    ] as const) {
      it(`forget is all or nothing when killed at ${point}`, async () => {
        const target = await setup()
        await runChild({ ...target, scenario: 'forget', killAt, killOn: 'storage' })
        const memory = await reopen(target)
        const { traces, vectors } = await traceAndVectorIds(memory)
        expect(vectors).toEqual(traces)
        expect(traces).toHaveLength(1)
        expect((await memory.recall('note to forget', { scope: 'crash' }))[0]?.trace.text).toBe(
          'a note to forget',
        )
      })
    }

    it('deleting a conversation takes its memories with it or leaves both (killed at the vector delete)', async () => {
      const target = await setup()
      await runChild({ ...target, scenario: 'deleteConversation', killAt: sql.remove, killOn: 'storage' })
      const memory = await reopen(target)
      const { traces, vectors } = await traceAndVectorIds(memory)
      expect(vectors).toEqual(traces)
      // The delete never committed: the conversation and both of its memories are all still there.
      expect(await memory.conversations.getConversation('ada', 'trip')).toBeDefined()
      expect(traces).toHaveLength(2)
    })
  })
}

describe('Memory killed with SIGKILL mid-write, with its vectors in another database (the outbox)', () => {
  const separate = (): Setup => ({
    storage: { kind: 'sqlite', file: newFile() },
    vectors: { kind: 'sqlite-file', file: newFile() },
  })

  it('heals a trace whose vector never reached the store when the memory opens again', async () => {
    const target = separate()
    await runChild({ ...target, scenario: 'remember', killAt: SQLITE_VECTORS.insert, killOn: 'vectors' })
    const memory = await reopen(target)
    const { traces, vectors } = await traceAndVectorIds(memory)
    expect(traces).toHaveLength(1)
    expect(vectors).toEqual(traces)
    expect(await pendingOutbox(memory)).toBe(0)
    expect((await memory.recall('crash interrupts', { scope: 'crash' }))[0]?.trace.text).toBe(
      'a note the crash interrupts',
    )
  })

  it('heals before a recall in a memory that was already open when another process crashed', async () => {
    const target = separate()
    const watcher = await reopen(target)
    await runChild({ ...target, scenario: 'remember', killAt: SQLITE_VECTORS.insert, killOn: 'vectors' })
    expect(await pendingOutbox(watcher)).toBe(1)
    const hits = await watcher.recall('crash interrupts', { scope: 'crash' })
    expect(hits.map((hit) => hit.trace.text)).toEqual(['a note the crash interrupts'])
    expect(await pendingOutbox(watcher)).toBe(0)
  })

  for (const scenario of ['forget', 'deleteConversation'] as const) {
    it(`finishes removing vectors after ${scenario} was killed before the store removed them`, async () => {
      const target = separate()
      await runChild({ ...target, scenario, killAt: SQLITE_VECTORS.remove, killOn: 'vectors' })
      const memory = await reopen(target)
      const { traces, vectors } = await traceAndVectorIds(memory)
      expect(traces).toEqual([])
      expect(vectors).toEqual([])
    })
  }

  it('loses no acknowledged write and leaves no orphan across 20 kills at random points', async () => {
    const target = separate()
    const random = seededRandom(12)
    const remembered = new Set<string>()
    const forgotten = new Set<string>()
    let healed = 0
    // Every child writes to the same four conversations, so a delete takes earlier rounds' notes too.
    const byConversation = new Map<string, string[]>()
    for (let round = 0; round < 20; round++) {
      const { acks } = await runChild({ ...target, scenario: 'rounds' }, 1 + Math.floor(random() * 25))
      // The last announced delete, if the kill came before its acknowledgement: it may have committed.
      let inFlight: string[] = []
      for (const ack of acks) {
        if (ack.op === 'forgetting') inFlight = [ack.id as string].filter((id) => !forgotten.has(id))
        else if (ack.op === 'deleting') {
          inFlight = (byConversation.get(ack.conversation as string) ?? []).filter((id) => !forgotten.has(id))
        } else if (ack.op === 'remember') {
          remembered.add(ack.id as string)
          byConversation.set(ack.conversation as string, [
            ...(byConversation.get(ack.conversation as string) ?? []),
            ack.id as string,
          ])
        } else if (ack.op === 'forget') {
          forgotten.add(ack.id as string)
          inFlight = []
        } else if (ack.op === 'deleteConversation') {
          for (const id of byConversation.get(ack.conversation as string) ?? []) forgotten.add(id)
          byConversation.delete(ack.conversation as string)
          inFlight = []
        }
      }
      const raw = createSqliteNativeAdapter({
        filename: target.storage.kind === 'sqlite' ? target.storage.file : '',
      })
      const pending = await raw
        .get<{ n: number }>('SELECT COUNT(*) AS n FROM engram_vector_outbox')
        .catch(() => ({ n: 0 }))
      await raw.close()
      healed += Number(pending?.n ?? 0)
      const { memory, close } = await open(target)
      onTestFinished(close)
      const { traces, vectors } = await traceAndVectorIds(memory)
      expect(vectors, `round ${round}: vectors equal traces`).toEqual(traces)
      const present = new Set(traces)
      // An interrupted delete happened whole or not at all; later rounds expect what it left.
      const gone = inFlight.filter((id) => !present.has(id))
      expect([0, inFlight.length], `round ${round}: an interrupted delete is all or nothing`).toContain(
        gone.length,
      )
      for (const id of gone) forgotten.add(id)
      for (const id of remembered) {
        if (!forgotten.has(id)) expect(present.has(id), `round ${round}: acknowledged ${id} kept`).toBe(true)
      }
      for (const id of forgotten) expect(present.has(id), `round ${round}: forgotten ${id} gone`).toBe(false)
      await close()
    }
    console.log(
      `memory outbox kill -9: 20 rounds, ${remembered.size} acknowledged remembers, ${forgotten.size} acknowledged removals, ${healed} outbox entries replayed on reopen, 0 orphans`,
    )
  })
})
