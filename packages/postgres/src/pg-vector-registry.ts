import {
  type CollectionSpec,
  type StorageAdapter,
  StorageError,
  type StoredCollection,
  specMismatch,
  type VectorMetric,
} from '@engram/core'
import type { PgVectorSettings } from './pg-vector-config.js'
import { rowSecurityDdl, SET_TENANT, secureTable } from './pg-vector-row-security.js'
import { repeatedWordsIndexDdl } from './pg-vector-text-list.js'

/** A registered collection, as one operation sees it. */
export interface PgCollection extends StoredCollection {
  /** The registry's identity value for it; never reused, so a recreated collection has a new one. */
  readonly id: number
  /** The quoted, schema-qualified table name. */
  readonly table: string
  /** The table's own name, unquoted (as `pg_stats` lists it). */
  readonly relation: string
  /** Where this operation's statements go: the adapter, or under row-level security the operation's transaction. */
  readonly db: StorageAdapter
  /** Whether `db` already is a transaction (so a multi-statement step needs no transaction of its own). */
  readonly inTransaction: boolean
}

/** Runs `fn` in one transaction: the operation's own under row-level security, a new one otherwise. */
export function atomically<T>(collection: PgCollection, fn: (tx: StorageAdapter) => Promise<T>): Promise<T> {
  return collection.inTransaction ? fn(collection.db) : collection.db.transaction(fn)
}

const REGISTRY = 'engram_collections'

/** SQLSTATE insufficient_privilege: the role is not the table's owner, so it cannot add an index. */
export const INSUFFICIENT_PRIVILEGE = '42501'

/** The SQLSTATE of the driver error behind a `StorageError`, if any. */
export function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined
  return typeof cause?.code === 'string' ? cause.code : undefined
}

/** A registry row as this store last read it. */
interface RegistryRow {
  readonly id: number
  readonly dimension: number
  readonly metric: VectorMetric
}

/**
 * The registry table (`engram_collections`: each collection's name, dimension, metric and HNSW
 * options) and the DDL of the collection tables, one `engram_v<id>` table per collection.
 */
export class PgVectorRegistry {
  readonly #db: StorageAdapter
  readonly #settings: PgVectorSettings
  /** Fixed by the config, or read from the server by `setUp`. */
  #schema: string | undefined
  #registry = ''
  /** Registry rows this store has read, by collection name; see `cached`. */
  readonly #known = new Map<string, RegistryRow>()

  constructor(db: StorageAdapter, settings: PgVectorSettings) {
    this.#db = db
    this.#settings = settings
    this.#schema = settings.schema
  }

  /** The schema holding the registry and the collection tables (known once `setUp` has run). */
  get schema(): string {
    return this.#schema as string
  }

  /** The registry's quoted, schema-qualified name (known once `setUp` has run). */
  get registry(): string {
    return this.#registry
  }

  /** Checks for pgvector (creating it if allowed) and creates the schema and the registry. */
  async setUp(): Promise<void> {
    if (this.#schema === undefined) {
      const row = await this.#db.get<{ schema: string | null }>('SELECT current_schema() AS schema')
      this.#schema = row?.schema ?? 'public'
    }
    this.#registry = `"${this.#schema}"."${REGISTRY}"`
    const installed = await this.#db.get(`SELECT 1 AS ok FROM pg_extension WHERE extname = 'vector'`)
    if (installed === undefined) {
      if (!this.#settings.createExtension) throw pgvectorMissing()
      try {
        await this.#db.exec('CREATE EXTENSION IF NOT EXISTS vector')
      } catch (error) {
        throw pgvectorMissing(error)
      }
    }
    await this.#db.transaction(async (tx) => {
      const found = await tx.get<{ present: boolean }>(
        'SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema) AS present',
        { key: this.#registry, schema: this.schema },
      )
      // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
      if (found?.present !== true) await tx.exec(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`)
      await tx.exec(`CREATE TABLE IF NOT EXISTS ${this.#registry} (
          id BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
          name TEXT COLLATE "C" PRIMARY KEY,
          dimension INTEGER NOT NULL,
          metric TEXT NOT NULL,
          m INTEGER NOT NULL,
          ef_construction INTEGER NOT NULL,
          created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`)
    })
  }

  /**
   * The registered collection as this store last read it, without a round trip, or `undefined`
   * when it has not read it yet. It may be stale: another store may have dropped or recreated the
   * collection since. Ids are never reused and a drop removes the table, so a statement on a stale
   * collection fails (table missing) instead of reaching another collection's rows; the caller then
   * calls `find` and tries once more.
   */
  cached(db: StorageAdapter, name: string): PgCollection | undefined {
    const row = this.#known.get(name)
    return row === undefined ? undefined : this.#collection(db, name, row, false)
  }

  /**
   * Reads the registered collection (one indexed read), remembers it for `cached`, or forgets it
   * when it is gone. Inside a row-level security transaction (`tenant` given) the same statement
   * sets `app.tenant_id` for the rest of it.
   */
  async find(db: StorageAdapter, name: string, tenant?: string): Promise<PgCollection | undefined> {
    const row =
      tenant === undefined
        ? await db.get<{ id: number; dimension: number; metric: VectorMetric }>(
            `SELECT id, dimension, metric FROM ${this.#registry} WHERE name = :name`,
            { name },
          )
        : await db.get<{ id: number | null; dimension: number; metric: VectorMetric }>(
            `SELECT ${SET_TENANT} AS tenant, r.id, r.dimension, r.metric
             FROM (VALUES (1)) AS one (x) LEFT JOIN ${this.#registry} r ON r.name = :name`,
            { tenant, name },
          )
    if (row === undefined || row.id === null) {
      this.#known.delete(name)
      return undefined
    }
    const known = { id: Number(row.id), dimension: row.dimension, metric: row.metric }
    this.#known.set(name, known)
    return this.#collection(db, name, known, tenant !== undefined)
  }

  /** Forgets what `cached` would answer for a collection. */
  forget(name: string): void {
    this.#known.delete(name)
  }

  /** Registers a collection and creates its table; a no-op for the same spec, `DIMENSION_MISMATCH` for another. */
  async add(name: string, spec: Required<CollectionSpec>): Promise<void> {
    const { m, efConstruction, rowLevelSecurity } = this.#settings
    const known = await this.#db.transaction(async (tx): Promise<RegistryRow> => {
      // Two stores creating the same collection at once: the second waits and then sees the first's.
      await this.#lock(tx, name)
      const existing = await tx.get<{ id: number; dimension: number; metric: VectorMetric }>(
        `SELECT id, dimension, metric FROM ${this.#registry} WHERE name = :name`,
        { name },
      )
      if (existing !== undefined) {
        if (existing.dimension !== spec.dimension || existing.metric !== spec.metric) {
          throw specMismatch(name, existing, spec)
        }
        if (rowLevelSecurity) await secureTable(tx, this.#tableName(Number(existing.id)))
        return { id: Number(existing.id), dimension: existing.dimension, metric: existing.metric }
      }
      const row = await tx.get<{ id: number }>(
        `INSERT INTO ${this.#registry} (name, dimension, metric, m, ef_construction) VALUES (:name, :dimension, :metric, :m, :ef) RETURNING id`,
        { name, dimension: spec.dimension, metric: spec.metric, m, ef: efConstruction },
      )
      const id = Number(row?.id)
      await tx.exec(this.#tableDdl(id, spec.dimension))
      if (rowLevelSecurity) await tx.exec(rowSecurityDdl(this.#tableName(id)))
      return { id, dimension: spec.dimension, metric: spec.metric }
    })
    this.#known.set(name, known)
  }

  /** Unregisters a collection and drops its table, with every tenant's records; a no-op when it is missing. */
  async drop(name: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await this.#lock(tx, name)
      const row = await tx.get<{ id: number }>(
        `DELETE FROM ${this.#registry} WHERE name = :name RETURNING id`,
        { name },
      )
      if (row !== undefined) await tx.exec(`DROP TABLE IF EXISTS ${this.#tableName(Number(row.id))}`)
    })
    this.#known.delete(name)
  }

  /** Every registered collection's name. */
  async names(): Promise<string[]> {
    const rows = await this.#db.all<{ name: string }>(
      `SELECT name FROM ${this.#registry} ORDER BY name COLLATE "C"`,
    )
    return rows.map((row) => row.name)
  }

  /**
   * The `m` and `ef_construction` recorded for a collection, and whether its HNSW index exists;
   * `undefined` when the collection (this id of it) is no longer registered.
   */
  async indexState(
    db: StorageAdapter,
    collection: PgCollection,
  ): Promise<{ present: boolean; m: number; ef: number } | undefined> {
    return db.get<{ present: boolean; m: number; ef: number }>(
      `SELECT to_regclass(:index) IS NOT NULL AS present, m, ef_construction AS ef FROM ${this.#registry} WHERE id = :id`,
      { index: `"${this.#schema}"."${collection.relation}_hnsw"`, id: collection.id },
    )
  }

  /** Holds a transaction-level advisory lock on one collection's registry entry. */
  async #lock(tx: StorageAdapter, name: string): Promise<void> {
    await tx.get('SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked', {
      key: `${this.#registry}.${name}`,
    })
  }

  #collection(db: StorageAdapter, name: string, row: RegistryRow, inTransaction: boolean): PgCollection {
    const { id, dimension, metric } = row
    return {
      name,
      id,
      dimension,
      metric,
      table: this.#tableName(id),
      relation: `engram_v${id}`,
      db,
      inTransaction,
    }
  }

  #tableName(id: number): string {
    return `"${this.#schema}"."engram_v${id}"`
  }

  /**
   * DDL for one collection: its table, the metadata and text indexes, and the repeated-words index
   * exact text ranking by tiers needs; not its HNSW index (built on first need). Only validated
   * integers and fixed words are spliced in.
   */
  #tableDdl(id: number, dimension: number): string {
    const table = this.#tableName(id)
    const index = (suffix: string) => `"engram_v${id}_${suffix}"`
    const statements = [
      `CREATE TABLE ${table} (
        tenant_id TEXT COLLATE "C" NOT NULL DEFAULT '',
        id TEXT COLLATE "C" NOT NULL,
        embedding vector(${dimension}) NOT NULL,
        metadata JSONB,
        text TEXT,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(text, ''))) STORED,
        PRIMARY KEY (tenant_id, id)
      )`,
      `CREATE INDEX ${index('metadata')} ON ${table} USING gin (metadata)`,
      // Without a pending list: ranking text by tiers reads this index with many small scans. Records
      // without text are left out (text queries say `text IS NOT NULL`), so vector-only inserts skip it.
      `CREATE INDEX ${index('tsv')} ON ${table} USING gin (tsv) WITH (fastupdate = off) WHERE text IS NOT NULL`,
      repeatedWordsIndexDdl(table, `engram_v${id}`),
    ]
    return statements.join(';\n')
  }
}

function pgvectorMissing(cause?: unknown): StorageError {
  return new StorageError(
    'DRIVER_NOT_INSTALLED',
    'pgvector is not installed in this database: run CREATE EXTENSION vector, or see docs/postgres.md',
    cause === undefined ? {} : { cause },
  )
}
