import {
  booleanOption,
  HNSW_DEFAULTS,
  integerOption,
  type StorageAdapter,
  StorageError,
  validateTenant,
} from '@engram/core'

/** Options for `createPgVectorStore`. Give `adapter` or `connectionString`, not both. */
export interface PgVectorStoreConfig {
  /** A Postgres `StorageAdapter` to run on (for example `createPostgresAdapter(...)`); the store never closes it. */
  adapter?: StorageAdapter
  /** A `postgres://` URL; the store opens its own adapter and closes it on `close()`. */
  connectionString?: string
  /** The schema holding the registry and the collection tables; created if missing. Default is the adapter's current schema (the first on its search path). */
  schema?: string
  /**
   * Scopes every statement to this tenant: its records are invisible to other tenants and theirs
   * to it. Collections themselves are shared. At most 256 characters of well-formed Unicode
   * without NUL. Default is no tenant (the tenant `''`).
   */
  tenant?: string
  /**
   * Also enforce `tenant` inside PostgreSQL with row-level security: collection tables this store
   * creates (or `createCollection` meets) get `FORCE ROW LEVEL SECURITY` and a policy admitting only
   * rows whose `tenant_id` equals `current_setting('app.tenant_id')`, and each operation runs in one
   * transaction that sets `app.tenant_id` to the tenant first. The bound `tenant_id` conditions stay.
   * Connect as a role that is neither a superuser nor `BYPASSRLS`, or PostgreSQL ignores the policy;
   * every store on those tables then needs this option and a non-empty `tenant` too. Default is `false`.
   */
  rowLevelSecurity?: boolean
  /** HNSW links per node, recorded when a collection is created and used when its index is built. Default is `16`. */
  m?: number
  /** HNSW candidate list size while building, recorded like `m`. Default is `128`. */
  efConstruction?: number
  /** HNSW candidate list size while searching (`hnsw.ef_search`, raised to topK, at most 1,000). Default is `64`. */
  efSearch?: number
  /**
   * Collections (per tenant) with fewer records than this are searched exactly instead of by HNSW;
   * `0` always uses HNSW. Default is `10000`: below that an exact scan inside the server is cheap,
   * and it is always right, while HNSW is approximate and has to build its index first.
   */
  exactBelow?: number
  /** On an HNSW search, how many nearest vectors (and best text matches) hybrid fusion ranks (at least topK). Default is `200`. */
  hybridCandidates?: number
  /**
   * Records (per tenant) a collection needs before text and hybrid queries drop their very common
   * words (see `commonTermFraction`), so a question such as "what is the …" does not rank nearly
   * every record. Smaller collections always search every word. Default is `10000`.
   */
  termPruningThreshold?: number
  /**
   * On a collection at or above `termPruningThreshold`, a query word found in more than this
   * fraction of the table's records is left out of text search (the rarest word is always kept).
   * Default is `0.3`.
   */
  commonTermFraction?: number
  /** Run `CREATE EXTENSION IF NOT EXISTS vector` when pgvector is missing (needs the privilege). Default is `false`. */
  createExtension?: boolean
  /**
   * `maintenance_work_mem` for the HNSW index build, set for the build's transaction only, so the
   * graph is built in memory instead of spilling to disk. Default is `'256MB'`.
   */
  indexBuildMemory?: string
  /**
   * Build a collection's HNSW index in the background when a search first needs it, on a
   * connection of its own, and answer searches exactly until it is ready, instead of building it
   * inside that search. PostgreSQL's `CREATE INDEX` still holds back writes to the table while it
   * runs. A build that fails is tried again by the next search that needs it; `close()` waits for
   * a running build. `Memory` turns this on. Default is `false`.
   */
  buildIndexInBackground?: boolean
}

/** The store's options after checking, with their defaults filled in. */
export interface PgVectorSettings {
  /** The configured schema; `undefined` means the adapter's current one. */
  readonly schema: string | undefined
  /** The tenant every statement is scoped to (`''` for none). */
  readonly tenant: string
  /** Whether each operation runs in a transaction that sets `app.tenant_id`. */
  readonly rowLevelSecurity: boolean
  /** HNSW links per node for new collections. */
  readonly m: number
  /** HNSW build candidate list size for new collections. */
  readonly efConstruction: number
  /** HNSW search candidate list size. */
  readonly efSearch: number
  /** Records per tenant from which search takes the HNSW path. */
  readonly exactBelow: number
  /** Candidates each list of an HNSW hybrid search ranks. */
  readonly hybridCandidates: number
  /** Records per tenant from which common query words are pruned. */
  readonly termPruningThreshold: number
  /** The share of rows above which a query word counts as common. */
  readonly commonTermFraction: number
  /** Whether set-up may create the extension. */
  readonly createExtension: boolean
  /** `maintenance_work_mem` for index builds. */
  readonly indexBuildMemory: string
  /** Whether the first search that needs an HNSW index starts its build and searches exactly meanwhile. */
  readonly buildIndexInBackground: boolean
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
const MEMORY_SETTING = /^[1-9][0-9]{0,8} ?(kB|MB|GB)$/

/** Checks every option but the adapter and fills in the defaults; bad options are `INVALID_ARGUMENT`. */
export function resolvePgVectorSettings(config: PgVectorStoreConfig): PgVectorSettings {
  const { schema } = config
  if (schema !== undefined && (typeof schema !== 'string' || !IDENTIFIER.test(schema))) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `schema ${JSON.stringify(schema)} must be a plain identifier (letters, digits, _)`,
    )
  }
  const tenant = validateTenant(config.tenant ?? '')
  const rowLevelSecurity = booleanOption(config.rowLevelSecurity, false, 'rowLevelSecurity')
  if (rowLevelSecurity && tenant === '') {
    throw new StorageError(
      'INVALID_ARGUMENT',
      'rowLevelSecurity needs a tenant: the policy admits only rows of a named tenant',
    )
  }
  const fraction = config.commonTermFraction ?? 0.3
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `commonTermFraction must be a number above 0 and at most 1, got ${fraction}`,
    )
  }
  const memory = config.indexBuildMemory ?? '256MB'
  if (typeof memory !== 'string' || !MEMORY_SETTING.test(memory)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `indexBuildMemory must be a size such as '256MB' or '1GB', got ${JSON.stringify(memory)}`,
    )
  }
  return {
    schema,
    tenant,
    rowLevelSecurity,
    m: integerOption(config.m, HNSW_DEFAULTS.m, 'm'),
    efConstruction: integerOption(config.efConstruction, HNSW_DEFAULTS.efConstruction, 'efConstruction'),
    efSearch: integerOption(config.efSearch, HNSW_DEFAULTS.efSearch, 'efSearch'),
    exactBelow: integerOption(config.exactBelow, 10_000, 'exactBelow', 0),
    hybridCandidates: integerOption(config.hybridCandidates, 200, 'hybridCandidates'),
    termPruningThreshold: integerOption(config.termPruningThreshold, 10_000, 'termPruningThreshold'),
    commonTermFraction: fraction,
    createExtension: booleanOption(config.createExtension, false, 'createExtension'),
    indexBuildMemory: memory,
    buildIndexInBackground: booleanOption(config.buildIndexInBackground, false, 'buildIndexInBackground'),
  }
}
