import { join } from 'node:path'
import { createDatabase, type StorageAdapter, StorageError } from '@engram/core'
import { Memory } from '@engram/memory'

/** Where the backend keeps its data, worked out from the environment. */
export type StoragePlan =
  | {
      /** PostgreSQL rows with pgvector vectors. */
      backend: 'postgres'
      /** The `DATABASE_URL`, password included; print it with `describePlan`, never directly. */
      url: string
      /** A schema to put the tables in (`ENGRAM_PG_SCHEMA`); it must already exist. */
      schema?: string
    }
  | {
      /** The embedded default: one SQLite file with the in-file vector tiers. */
      backend: 'sqlite'
      /** The SQLite file. */
      path: string
    }

/** The environment variables `openMemory` reads. */
export interface MemoryEnv {
  /** A `postgres://` URL; when set, the backend runs on Postgres. */
  DATABASE_URL?: string | undefined
  /** The schema for the tables on Postgres, searched before `public` (where pgvector's types live). Default is the server's search path. */
  ENGRAM_PG_SCHEMA?: string | undefined
  /** The folder for the SQLite file when `DATABASE_URL` is unset. Default is `./.engram`. */
  ENGRAM_DATA_DIR?: string | undefined
}

/** A memory opened by `openMemory`, with the one call that releases everything it opened. */
export interface OpenedMemory {
  /** The memory to hand to `createApp`. */
  memory: Memory
  /** What was chosen. */
  plan: StoragePlan
  /** Closes the memory and the database under it. */
  close(): Promise<void>
}

/** Picks the storage: Postgres when `DATABASE_URL` is set, else a SQLite file in `ENGRAM_DATA_DIR`. */
export function chooseStorage(env: MemoryEnv): StoragePlan {
  const url = env.DATABASE_URL?.trim()
  if (url) {
    if (!/^postgres(ql)?:\/\//i.test(url)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        'DATABASE_URL must be a postgres:// URL; unset it to use the embedded SQLite file instead',
      )
    }
    const schema = env.ENGRAM_PG_SCHEMA?.trim()
    return schema ? { backend: 'postgres', url, schema } : { backend: 'postgres', url }
  }
  const folder = env.ENGRAM_DATA_DIR?.trim() || '.engram'
  return { backend: 'sqlite', path: join(folder, 'memory.db') }
}

/** A one-line description of the plan for logs; a Postgres URL loses its password. */
export function describePlan(plan: StoragePlan): string {
  if (plan.backend === 'sqlite') return `SQLite file ${plan.path}`
  let where: string
  try {
    const url = new URL(plan.url)
    where = `${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.host}${url.pathname}`
  } catch {
    where = '(an unparseable URL)'
  }
  return `PostgreSQL ${where}${plan.schema ? ` (schema ${plan.schema})` : ''}`
}

/**
 * Opens the memory the environment asks for. On Postgres the vectors default to pgvector in the
 * same database; on SQLite to the in-file vector store (HNSW sidecar past 1,000 memories).
 */
export async function openMemory(env: MemoryEnv = process.env): Promise<OpenedMemory> {
  const plan = chooseStorage(env)
  if (plan.backend === 'sqlite') {
    const memory = await Memory.open({ path: plan.path })
    return { memory, plan, close: () => memory.close() }
  }
  const storage = await createDatabase({
    url: plan.url,
    // pgvector's types live in public, so it stays on the path after our own schema.
    ...(plan.schema ? { searchPath: [plan.schema, 'public'] } : {}),
  })
  try {
    if (plan.schema) await requireSchema(storage, plan.schema)
    // Memory leaves a storage it was given open, so closing is ours to do, after the memory.
    const memory = await Memory.open({ storage })
    return {
      memory,
      plan,
      close: async () => {
        try {
          await memory.close()
        } finally {
          await storage.close()
        }
      },
    }
  } catch (error) {
    await storage.close().catch(() => undefined)
    throw error
  }
}

/** Postgres skips a missing schema on the search path without a word, which would put every table in public. */
async function requireSchema(storage: StorageAdapter, schema: string): Promise<void> {
  const found = await storage.get('SELECT 1 AS found FROM pg_namespace WHERE nspname = ?', [schema])
  if (found === undefined) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `ENGRAM_PG_SCHEMA names a schema that does not exist: run CREATE SCHEMA ${schema}, or unset it`,
    )
  }
}
