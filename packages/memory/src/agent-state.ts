import type { StorageAdapter } from '@engram/core'
import { checkKey, toJsonText } from './memory-input.js'
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

  /**
   * Replaces the agent's state with `value`: plain objects, arrays, strings, finite numbers,
   * booleans and null. Anything JSON would change on the way (a Map, a Date, a class instance,
   * `undefined`) is refused, so what `load` returns equals what was saved.
   */
  async save(agentId: string, value: unknown): Promise<void> {
    checkAgent(agentId)
    const json = toJsonText(value, 'Agent state')
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
  checkKey(agentId, 'agentId')
}
