import { isStorageError, type StorageAdapter, StorageError } from '@engram/core'

/** One step of a component's schema. Versions start at 1 and grow by one. */
export interface Migration {
  /** The schema version this step produces. */
  readonly version: number
  /** A short description, recorded with the version. */
  readonly name: string
  /** Applies the step inside the migration transaction; use `tx`, and `tx.dialect` for dialect-specific SQL. */
  up(tx: StorageAdapter): Promise<void>
}

/** A versioned schema owned by one component (its migrations are recorded under its name). */
export interface SchemaDefinition {
  /** The component's name in the migrations table, such as `'conversation-memory'`. */
  readonly component: string
  /** Every step, in version order. */
  readonly migrations: readonly Migration[]
}

/** What `migrateSchema` did. */
export interface MigrationReport {
  /** The component migrated. */
  component: string
  /** The version found before migrating (0 for a new database). */
  from: number
  /** The version the database is at now. */
  to: number
  /** Versions this call applied; empty when another process (or an earlier call) had already. */
  applied: number[]
}

/** The table that records applied migrations, shared by every component. */
export const MIGRATIONS_TABLE = 'engram_migrations'

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  component TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (component, version)
)`

// A SQLite driver that opens transactions with a plain BEGIN can lose the race for the write
// lock with SQLITE_BUSY (a stale snapshot cannot wait); the loser retries and finds the work done.
const BUSY_RETRIES = 8

/**
 * Brings a component's tables up to its newest version. Each migration runs in the same
 * transaction as the row recording it, so it applies exactly once even when several
 * processes start together: SQLite serialises writers on the database lock (sqlite-native
 * opens transactions with BEGIN IMMEDIATE), Postgres on an advisory lock, and the version
 * is read again after the lock is held.
 */
export async function migrateSchema(
  adapter: StorageAdapter,
  schema: SchemaDefinition,
): Promise<MigrationReport> {
  const latest = checkDefinition(schema)
  const { component } = schema
  const seen = await currentVersion(adapter, component)
  if (seen !== undefined && seen >= latest) {
    tooNew(component, seen, latest)
    return { component, from: seen, to: seen, applied: [] }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await adapter.transaction((tx) => migrateLocked(tx, schema, latest))
    } catch (error) {
      if (!isStorageError(error, 'BUSY') || attempt >= BUSY_RETRIES) throw error
      await sleep(10 * 2 ** Math.min(attempt, 5) * (0.5 + Math.random()))
    }
  }
}

async function migrateLocked(
  tx: StorageAdapter,
  schema: SchemaDefinition,
  latest: number,
): Promise<MigrationReport> {
  const { component } = schema
  if (tx.dialect === 'postgres') {
    // Held until commit; keyed by schema so tests (and tenants) in separate schemas do not queue.
    await tx.run('SELECT pg_advisory_xact_lock(hashtext(current_schema() || ?))', [`.${MIGRATIONS_TABLE}`])
  }
  await tx.exec(CREATE_TABLE)
  if (tx.dialect === 'sqlite') {
    // Take the write lock now, before reading the version, so the read cannot go stale.
    await tx.run(`DELETE FROM ${MIGRATIONS_TABLE} WHERE 1 = 0`)
  }
  const from = (await currentVersion(tx, component)) ?? 0
  tooNew(component, from, latest)
  const applied: number[] = []
  for (const migration of schema.migrations) {
    if (migration.version <= from) continue
    try {
      await migration.up(tx)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new StorageError(
        isStorageError(error) ? error.code : 'QUERY_FAILED',
        `Migration ${component} v${migration.version} (${migration.name}) failed and was rolled back: ${reason}`,
        { cause: error },
      )
    }
    await tx.run(
      `INSERT INTO ${MIGRATIONS_TABLE} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
      [component, migration.version, migration.name, Date.now()],
    )
    applied.push(migration.version)
  }
  return { component, from, to: Math.max(from, latest), applied }
}

/** The component's recorded version, or `undefined` when the migrations table does not exist yet. */
async function currentVersion(db: StorageAdapter, component: string): Promise<number | undefined> {
  try {
    const row = await db.get<{ version: number | null }>(
      `SELECT MAX(version) AS version FROM ${MIGRATIONS_TABLE} WHERE component = ?`,
      [component],
    )
    return Number(row?.version ?? 0)
  } catch (error) {
    if (isStorageError(error, 'NOT_FOUND')) return undefined
    throw error
  }
}

function checkDefinition(schema: SchemaDefinition): number {
  if (typeof schema?.component !== 'string' || schema.component.length === 0) {
    throw new StorageError('INVALID_ARGUMENT', 'migrateSchema needs a component name')
  }
  let expected = 1
  for (const migration of schema.migrations ?? []) {
    if (migration.version !== expected) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `Migrations of ${schema.component} must be numbered 1, 2, 3… in order; found ${migration.version} where ${expected} was expected`,
      )
    }
    expected++
  }
  return expected - 1
}

function tooNew(component: string, version: number, latest: number): void {
  if (version > latest) {
    throw new StorageError(
      'UNSUPPORTED',
      `The database's ${component} schema is at version ${version}, newer than this @engram/memory knows (${latest}); upgrade @engram/memory`,
    )
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
