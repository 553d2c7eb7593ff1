import { checkWellFormed, type StorageAdapter, StorageError } from '@engram/core'
import { checkKey, checkOptions, describeValue, isPlainObject, toJsonText } from './memory-input.js'
import { type MigrationReport, migrateSchema, type SchemaDefinition } from './migrate-schema.js'

/** The entities table. */
export const ENTITIES_TABLE = 'engram_entities'
/** The relations table. */
export const RELATIONS_TABLE = 'engram_relations'

/** A node of the knowledge graph. */
export interface Entity {
  /** Its id. */
  id: string
  /** A display name. */
  name: string
  /** A kind, such as `'person'` or `'city'`. */
  type: string
  /** Any JSON-serialisable properties. */
  properties: Record<string, unknown>
}

/** A directed, typed edge between two entities. */
export interface Relation {
  /** The entity it starts from. */
  sourceId: string
  /** The entity it points to. */
  targetId: string
  /** What it means, such as `'capital_of'`. */
  type: string
  /** How strong it is; higher edges are followed first when fan-out is bounded. Default is `1`. */
  weight: number
  /** Any JSON-serialisable properties. */
  properties: Record<string, unknown>
}

/** One entity reached by `neighbors`, with how far away it is and the path that reached it first. */
export interface Neighbor {
  /** The entity. */
  entity: Entity
  /** Number of edges from the start. */
  depth: number
  /** Entity ids from the start (excluded) to this entity (included). */
  path: string[]
  /** The type of the last edge on the path. */
  via: string
}

/** Options for `neighbors`. */
export interface NeighborOptions {
  /** Edges to follow at most. Default is `1`, at most `6`. */
  depth?: number
  /** Follow edges out of each entity (`'out'`), into it (`'in'`) or both. Default is `'out'`. */
  direction?: 'out' | 'in' | 'both'
  /** Edges followed from any one entity, strongest first. Default is `25`. */
  fanout?: number
  /** Entities returned at most, nearest first. Default is `100`. */
  limit?: number
  /** Only follow edges of these types. */
  types?: readonly string[]
}

const SCHEMA: SchemaDefinition = {
  component: 'knowledge-graph',
  migrations: [
    {
      version: 1,
      name: 'entities and relations',
      async up(tx) {
        const real = tx.dialect === 'postgres' ? 'DOUBLE PRECISION' : 'REAL'
        await tx.exec(`
          CREATE TABLE ${ENTITIES_TABLE} (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            properties TEXT NOT NULL,
            created_at BIGINT NOT NULL
          );
          CREATE INDEX engram_entities_by_type ON ${ENTITIES_TABLE} (type, name);
          CREATE TABLE ${RELATIONS_TABLE} (
            source_id TEXT NOT NULL REFERENCES ${ENTITIES_TABLE} (id) ON DELETE CASCADE,
            target_id TEXT NOT NULL REFERENCES ${ENTITIES_TABLE} (id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            weight ${real} NOT NULL,
            properties TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (source_id, type, target_id)
          );
          CREATE INDEX engram_relations_by_source ON ${RELATIONS_TABLE} (source_id, weight);
          CREATE INDEX engram_relations_by_target ON ${RELATIONS_TABLE} (target_id, weight);
        `)
      },
    },
  ],
}

// Separates ids in the path string; a control character no sane id contains, and ids holding it are refused.
const SEP = '\u001f'

/**
 * A small property graph in SQL tables, on SQLite or Postgres. Traversal is one recursive
 * query with a cycle guard, a depth bound and a per-entity fan-out bound, so a dense or
 * cyclic graph can never make it run away.
 */
export class KnowledgeGraph {
  readonly #db: StorageAdapter

  /** Uses `adapter` for its tables; call `initialize()` once before use. */
  constructor(adapter: StorageAdapter) {
    this.#db = adapter
  }

  /** Creates or upgrades the graph's tables. Safe to call from several processes at once. */
  initialize(): Promise<MigrationReport> {
    return migrateSchema(this.#db, SCHEMA)
  }

  /** Adds an entity, or updates the name, type and properties of the one with the same id. */
  async addEntity(input: {
    id?: string
    name: string
    type?: string
    properties?: Record<string, unknown>
  }): Promise<Entity> {
    if (!isPlainObject(input)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `addEntity takes { id?, name, type?, properties? }; got ${describeValue(input)}`,
      )
    }
    const entity: Entity = {
      id: checkId(input.id ?? randomId(), 'entity id'),
      name: checkText(input.name, 'entity name'),
      type: checkText(input.type ?? 'thing', 'entity type'),
      properties: checkProperties(input.properties),
    }
    await this.#db.run(
      `INSERT INTO ${ENTITIES_TABLE} (id, name, type, properties, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, properties = excluded.properties`,
      [entity.id, entity.name, entity.type, JSON.stringify(entity.properties), Date.now()],
    )
    return entity
  }

  /** Fetches an entity by id. */
  async getEntity(id: string): Promise<Entity | undefined> {
    const row = await this.#db.get<EntityRow>(
      `SELECT id, name, type, properties FROM ${ENTITIES_TABLE} WHERE id = ?`,
      [checkId(id, 'entity id')],
    )
    return row && toEntity(row)
  }

  /** Finds entities by exact name (and type, if given). */
  async findEntities(name: string, type?: string): Promise<Entity[]> {
    checkText(name, 'entity name')
    if (type !== undefined) checkText(type, 'entity type')
    const rows = await this.#db.all<EntityRow>(
      type === undefined
        ? `SELECT id, name, type, properties FROM ${ENTITIES_TABLE} WHERE name = ? ORDER BY id`
        : `SELECT id, name, type, properties FROM ${ENTITIES_TABLE} WHERE name = ? AND type = ? ORDER BY id`,
      type === undefined ? [name] : [name, type],
    )
    return rows.map(toEntity)
  }

  /** Adds a relation between two existing entities, or updates its weight and properties. */
  async addRelation(
    sourceId: string,
    targetId: string,
    type: string,
    given?: { weight?: number; properties?: Record<string, unknown> },
  ): Promise<Relation> {
    const options = checkOptions(given, 'options')
    const weight = options.weight ?? 1
    if (typeof weight !== 'number' || !Number.isFinite(weight))
      throw new StorageError('INVALID_ARGUMENT', 'A relation weight must be a finite number')
    const relation: Relation = {
      sourceId: checkId(sourceId, 'source id'),
      targetId: checkId(targetId, 'target id'),
      type: checkText(type, 'relation type'),
      weight,
      properties: checkProperties(options.properties),
    }
    try {
      await this.#db.run(
        `INSERT INTO ${RELATIONS_TABLE} (source_id, target_id, type, weight, properties, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source_id, type, target_id) DO UPDATE SET weight = excluded.weight, properties = excluded.properties`,
        [
          relation.sourceId,
          relation.targetId,
          relation.type,
          weight,
          JSON.stringify(relation.properties),
          Date.now(),
        ],
      )
    } catch (error) {
      if (error instanceof StorageError && error.code === 'FOREIGN_KEY_VIOLATION') {
        throw new StorageError(
          'NOT_FOUND',
          `Both entities must exist before relating them (${sourceId} → ${targetId})`,
          {
            cause: error,
          },
        )
      }
      throw error
    }
    return relation
  }

  /** Removes an entity and every relation touching it. Returns whether it existed. */
  async removeEntity(id: string): Promise<boolean> {
    checkId(id, 'entity id')
    return this.#db.transaction(async (tx) => {
      await tx.run(`DELETE FROM ${RELATIONS_TABLE} WHERE source_id = ? OR target_id = ?`, [id, id])
      return (await tx.run(`DELETE FROM ${ENTITIES_TABLE} WHERE id = ?`, [id])).changes > 0
    })
  }

  /** Removes one relation. Returns whether it existed. */
  async removeRelation(sourceId: string, targetId: string, type: string): Promise<boolean> {
    checkId(sourceId, 'source id')
    checkId(targetId, 'target id')
    checkText(type, 'relation type')
    const result = await this.#db.run(
      `DELETE FROM ${RELATIONS_TABLE} WHERE source_id = ? AND target_id = ? AND type = ?`,
      [sourceId, targetId, type],
    )
    return result.changes > 0
  }

  /**
   * The entities within `depth` edges of `id`, nearest first, each once with the first path
   * found. One recursive query: it never revisits an entity on the same path (cycle guard),
   * follows at most `fanout` edges out of any entity, and stops at `depth`.
   */
  async neighbors(id: string, given?: NeighborOptions): Promise<Neighbor[]> {
    const options = checkOptions(given, 'options')
    const depth = bounded(options.depth ?? 1, 1, 6, 'depth')
    const fanout = bounded(options.fanout ?? 25, 1, 1000, 'fanout')
    const limit = bounded(options.limit ?? 100, 1, 10_000, 'limit')
    const direction = options.direction ?? 'out'
    if (direction !== 'out' && direction !== 'in' && direction !== 'both') {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `direction must be 'out', 'in' or 'both', got ${JSON.stringify(direction)}`,
      )
    }
    const types = options.types ?? []
    if (!Array.isArray(types)) {
      throw new StorageError(
        'INVALID_ARGUMENT',
        `types must be an array of relation types; got ${describeValue(types)}`,
      )
    }
    for (const [i, type] of types.entries()) checkText(type, `types[${i}]`)
    const start = checkId(id, 'entity id')
    const pg = this.#db.dialect === 'postgres'

    const sides = {
      out: `SELECT source_id AS src, target_id AS dst, type, weight FROM ${RELATIONS_TABLE}`,
      in: `SELECT target_id AS src, source_id AS dst, type, weight FROM ${RELATIONS_TABLE}`,
    }
    const typeFilter = types.length ? ` WHERE type IN (${types.map(() => '?').join(', ')})` : ''
    const edges =
      direction === 'both'
        ? `${sides.out}${typeFilter} UNION ALL ${sides.in}${typeFilter}`
        : `${sides[direction]}${typeFilter}`
    const edgeParams = direction === 'both' ? [...types, ...types] : [...types]
    // The strongest `fanout` edges out of the entity being expanded. SQLite has no LATERAL,
    // but allows a correlated subquery in the recursive step; Postgres wants LATERAL.
    const step = pg
      ? `CROSS JOIN LATERAL (SELECT e.dst, e.type FROM edges e WHERE e.src = walk.node
           ORDER BY e.weight DESC, e.dst LIMIT ?) next`
      : `JOIN edges next ON next.src = walk.node AND next.dst IN (
           SELECT e.dst FROM edges e WHERE e.src = walk.node ORDER BY e.weight DESC, e.dst LIMIT ?)`
    const notOnPath = pg
      ? 'strpos(walk.path, ? || next.dst || ?) = 0'
      : 'instr(walk.path, ? || next.dst || ?) = 0'
    const rows = await this.#db.all<{ node: string; depth: number; path: string; via: string }>(
      `WITH RECURSIVE edges AS (${edges}),
       walk (node, depth, path, via) AS (
         SELECT CAST(? AS TEXT), 0, CAST(? || ? || ? AS TEXT), CAST('' AS TEXT)
         UNION ALL
         SELECT next.dst, walk.depth + 1, walk.path || next.dst || ?, next.type
         FROM walk ${step}
         WHERE walk.depth < ? AND ${notOnPath}
       ),
       firsts AS (
         SELECT node, depth, path, via,
                ROW_NUMBER() OVER (PARTITION BY node ORDER BY depth, path) AS rn
         FROM walk WHERE depth > 0
       )
       SELECT node, depth, path, via FROM firsts WHERE rn = 1 AND node <> ? ORDER BY depth, node LIMIT ?`,
      [...edgeParams, start, SEP, start, SEP, SEP, fanout, depth, SEP, SEP, start, limit],
    )
    if (rows.length === 0) return []
    const entities = new Map<string, Entity>()
    for (let i = 0; i < rows.length; i += 500) {
      const ids = rows.slice(i, i + 500).map((r) => r.node)
      const found = await this.#db.all<EntityRow>(
        `SELECT id, name, type, properties FROM ${ENTITIES_TABLE} WHERE id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      )
      for (const row of found) entities.set(row.id, toEntity(row))
    }
    return rows.flatMap((row) => {
      const entity = entities.get(row.node)
      if (!entity) return []
      const path = row.path.split(SEP).filter(Boolean).slice(1)
      return [{ entity, depth: Number(row.depth), path, via: row.via }]
    })
  }
}

interface EntityRow {
  id: string
  name: string
  type: string
  properties: string
}

function toEntity(row: EntityRow): Entity {
  return { id: row.id, name: row.name, type: row.type, properties: JSON.parse(row.properties) }
}

function checkId(id: unknown, what: string): string {
  const key = checkKey(id, what)
  if (key.includes(SEP)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} must not contain U+001F, which separates ids in paths`,
    )
  }
  return key
}

function checkText(text: unknown, what: string): string {
  if (typeof text !== 'string' || text.trim().length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} must be a non-empty string; got ${describeValue(text)}`,
    )
  }
  return checkWellFormed(text, what)
}

/** A copy of the properties that reads back equal, or `INVALID_ARGUMENT` for what JSON would change. */
function checkProperties(properties: unknown): Record<string, unknown> {
  if (properties === undefined) return {}
  if (!isPlainObject(properties)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `properties must be a plain object; got ${describeValue(properties)}`,
    )
  }
  return JSON.parse(toJsonText(properties, 'properties'))
}

function bounded(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${what} must be an integer from ${min} to ${max}, got ${value}`,
    )
  }
  return value
}

function randomId(): string {
  return globalThis.crypto.randomUUID()
}
