import type { StorageAdapter, VectorMetric } from '@engram/core'

/** The registry of collections: one row per collection, shared by every store on the database. */
export const REGISTRY = 'engram_collections'

/** The tokenizer of every collection's FTS5 table, and of the scratch table text search scores changed records in. */
export const FTS5_TOKENIZE = "tokenize='unicode61'"

/** The registry's columns, in `CollectionRow`'s order. */
export const REGISTRY_COLUMNS = 'cid, name, uid, dimension, metric, fts, seq, floor, count'

/** A collection as the registry stores it. */
export interface CollectionRow {
  /** The registry key; table names are derived from it, never from the user's name. */
  cid: number
  /** The collection's name. */
  name: string
  /** A random id per creation, so an index file left by a dropped namesake is never reused. */
  uid: string
  /** Number of dimensions. */
  dimension: number
  /** Similarity measure. */
  metric: VectorMetric
  /** The full-text flavour the collection's text table uses, or `null` without full text. */
  fts: 'fts5' | 'fts4' | null
  /** The change sequence: bumped by every write batch, stamped on changed rows and tombstones. */
  seq: number
  /** Tombstones up to this sequence have been pruned; an index checkpointed before it must be rebuilt. */
  floor: number
  /** Number of records. */
  count: number
}

/** The tables of one collection. */
export interface CollectionTables {
  /** Records: `label` (the integer ANN label), `id`, `vector`, `metadata`, `text`, `seq`. */
  vectors: string
  /** The FTS table whose rowid is the record's label. */
  text: string
  /** Labels deleted since the ANN index's last checkpoint, with the sequence of the delete. */
  gone: string
}

/** Table names for a collection; built from the integer `cid`, so no user text reaches the SQL. */
export function collectionTables(cid: number): CollectionTables {
  return { vectors: `engram_vec_${cid}`, text: `engram_fts_${cid}`, gone: `engram_gone_${cid}` }
}

/** Creates the registry if it is missing. */
export async function ensureRegistry(db: StorageAdapter): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS ${REGISTRY} (
    cid INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    uid TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    metric TEXT NOT NULL,
    fts TEXT,
    seq INTEGER NOT NULL DEFAULT 0,
    floor INTEGER NOT NULL DEFAULT 0,
    count INTEGER NOT NULL DEFAULT 0
  )`)
}

/**
 * Creates a collection's tables. Triggers keep the FTS table in step with the records on
 * insert, replace, update and delete inside the writing transaction, whoever writes the rows.
 */
export async function createCollectionTables(
  db: StorageAdapter,
  cid: number,
  fts: 'fts5' | 'fts4' | null,
): Promise<void> {
  const t = collectionTables(cid)
  // AUTOINCREMENT: a deleted label is never handed out again, so an ANN index can never confuse two records.
  let script = `
    CREATE TABLE ${t.vectors} (
      label INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      vector BLOB NOT NULL,
      metadata TEXT,
      text TEXT,
      seq INTEGER NOT NULL
    );
    CREATE INDEX ${t.vectors}_seq ON ${t.vectors}(seq);
    CREATE TABLE ${t.gone} (label INTEGER PRIMARY KEY, seq INTEGER NOT NULL);`
  if (fts) {
    const using = fts === 'fts5' ? `fts5(text, ${FTS5_TOKENIZE})` : 'fts4(text, tokenize=unicode61)'
    script += `
    CREATE VIRTUAL TABLE ${t.text} USING ${using};
    CREATE TRIGGER ${t.vectors}_ai AFTER INSERT ON ${t.vectors} WHEN new.text IS NOT NULL BEGIN
      INSERT INTO ${t.text}(rowid, text) VALUES (new.label, new.text);
    END;
    CREATE TRIGGER ${t.vectors}_ad AFTER DELETE ON ${t.vectors} WHEN old.text IS NOT NULL BEGIN
      DELETE FROM ${t.text} WHERE rowid = old.label;
    END;
    CREATE TRIGGER ${t.vectors}_au AFTER UPDATE OF text ON ${t.vectors} BEGIN
      DELETE FROM ${t.text} WHERE rowid = old.label;
      INSERT INTO ${t.text}(rowid, text) SELECT new.label, new.text WHERE new.text IS NOT NULL;
    END;`
  }
  await db.exec(script)
}

/**
 * The collection's registry row as it is now, or `undefined` once it was dropped (or dropped
 * and created again). A catch-up reads it after the tombstones: a floor above the sequence it
 * caught up from means some of them were pruned meanwhile.
 */
export async function currentRow(db: StorageAdapter, c: CollectionRow): Promise<CollectionRow | undefined> {
  const row = await db.get<CollectionRow>(`SELECT ${REGISTRY_COLUMNS} FROM ${REGISTRY} WHERE cid = ?`, [
    c.cid,
  ])
  return row?.uid === c.uid ? row : undefined
}

/** Drops a collection's tables (their triggers go with them). */
export async function dropCollectionTables(db: StorageAdapter, cid: number): Promise<void> {
  const t = collectionTables(cid)
  await db.exec(
    `DROP TABLE IF EXISTS ${t.text}; DROP TABLE IF EXISTS ${t.gone}; DROP TABLE IF EXISTS ${t.vectors};`,
  )
}
