import { type StorageAdapter, StorageError } from '@engram/core'
import { type MigrationReport, migrateSchema, type SchemaDefinition } from './migrate-schema.js'

/** The agent-state table. */
export const AGENT_STATE_TABLE = 'engram_agent_state'

const SCHEMA: SchemaDefinition = {
  component: 'agent-state',
  migrations: [
    {
      version: 1,
      name: 'agent state',
      async up(tx) {
        await tx.exec(`CREATE TABLE ${AGENT_STATE_TABLE} (
          agent_id TEXT PRIMARY KEY,
          value TEXT NOT NULL,
          updated_at BIGINT NOT NULL
        )`)
      },
    },
  ],
}

/** A saved state with the time it was written. */
export interface SavedState<T> {
  /** The value, as it was saved. */
  value: T
  /** When it was saved, in milliseconds since the epoch. */
  updatedAt: number
}

/** Saves and loads one JSON value per agent: its working state between runs. */
export class AgentState {
  readonly #db: StorageAdapter

  /** Uses `adapter` for its table; call `initialize()` once before use. */
  constructor(adapter: StorageAdapter) {
    this.#db = adapter
  }

  /** Creates or upgrades the table. */
  initialize(): Promise<MigrationReport> {
    return migrateSchema(this.#db, SCHEMA)
  }

  /** Replaces the agent's state with `value` (anything JSON can hold). */
  async save(agentId: string, value: unknown): Promise<void> {
    checkAgent(agentId)
    let json: string | undefined
    try {
      json = JSON.stringify(value)
    } catch (error) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `Agent state must be JSON-serialisable: ${(error as Error).message}`,
      )
    }
    if (json === undefined)
      throw new StorageError('INVALID_ARGUMENT', 'Agent state must be a JSON value, not undefined')
    await this.#db.run(
      `INSERT INTO ${AGENT_STATE_TABLE} (agent_id, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [agentId, json, Date.now()],
    )
  }

  /** The agent's saved state, or `undefined` if it has none. */
  async load<T = unknown>(agentId: string): Promise<T | undefined> {
    return (await this.loadWithTime<T>(agentId))?.value
  }

  /** The agent's saved state with when it was saved, or `undefined`. */
  async loadWithTime<T = unknown>(agentId: string): Promise<SavedState<T> | undefined> {
    checkAgent(agentId)
    const row = await this.#db.get<{ value: string; updated_at: number }>(
      `SELECT value, updated_at FROM ${AGENT_STATE_TABLE} WHERE agent_id = ?`,
      [agentId],
    )
    return row && { value: JSON.parse(row.value) as T, updatedAt: Number(row.updated_at) }
  }

  /** Deletes the agent's state. Returns whether there was one. */
  async clear(agentId: string): Promise<boolean> {
    checkAgent(agentId)
    return (await this.#db.run(`DELETE FROM ${AGENT_STATE_TABLE} WHERE agent_id = ?`, [agentId])).changes > 0
  }
}

function checkAgent(agentId: unknown): void {
  if (typeof agentId !== 'string' || agentId.length === 0 || agentId.length > 512) {
    throw new StorageError('INVALID_ARGUMENT', 'agentId must be a non-empty string of at most 512 characters')
  }
}
