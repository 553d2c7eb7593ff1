import type { SqlDialect } from '@engram/core'

/** The `format` every engram export's header line carries. */
export const EXPORT_FORMAT = 'engram-export'

/** The format version this package writes and reads. */
export const EXPORT_VERSION = 1

/** A column as the source's catalog declares it. Generated columns are not listed (their values are derived). */
export interface ColumnSchema {
  /** The column's name. */
  readonly name: string
  /** The declared type as the source's catalog prints it (`'INTEGER'`, `'character varying(20)'`); `''` when SQLite has none. */
  readonly type: string
  /** Whether NULL is refused. */
  readonly notNull: boolean
  /** The default as SQL text in the source's dialect, or `null` when there is none. */
  readonly default: string | null
  /** An identity column: Postgres `GENERATED … AS IDENTITY` or `serial`, SQLite's `INTEGER PRIMARY KEY`. */
  readonly identity?: 'always' | 'by-default'
}

/** One key column of an index. */
export interface IndexColumn {
  /** The column's name. */
  readonly name: string
  /** Whether the index sorts it in descending order. */
  readonly descending: boolean
}

/** A secondary index (the primary key's own index is not listed). */
export interface IndexSchema {
  /** The index's name. */
  readonly name: string
  /** Whether it enforces uniqueness (a UNIQUE constraint is listed as a unique index). */
  readonly unique: boolean
  /** The key columns, or `null` when a key is an expression. */
  readonly columns: readonly IndexColumn[] | null
  /** Whether it has a WHERE clause. */
  readonly partial: boolean
  /** Whether a UNIQUE constraint of a SQLite table's own definition made it (so `sql` already creates it). */
  readonly constraint: boolean
  /** The `CREATE INDEX` statement in the source's dialect, unqualified. */
  readonly definition: string
}

/** A foreign key. */
export interface ForeignKeySchema {
  /** The constraint's name (Postgres sources; SQLite's are unnamed). */
  readonly name?: string
  /** The referencing columns. */
  readonly columns: readonly string[]
  /** The referenced table. */
  readonly table: string
  /** The referenced columns, in the same order. */
  readonly references: readonly string[]
  /** `'NO ACTION'`, `'RESTRICT'`, `'CASCADE'`, `'SET NULL'` or `'SET DEFAULT'`. */
  readonly onDelete: string
  /** As `onDelete`, for updates. */
  readonly onUpdate: string
}

/** A CHECK constraint (Postgres sources; SQLite keeps them in `sql`). */
export interface CheckSchema {
  /** The constraint's name. */
  readonly name: string
  /** Its definition, such as `CHECK ((n > 0))`. */
  readonly definition: string
}

/** A table as the export header describes it. */
export interface TableSchema {
  /** The table's name. */
  readonly name: string
  /** Its columns, in the order row lines list their values. */
  readonly columns: readonly ColumnSchema[]
  /** The primary key's columns in key order; empty when the table has none. */
  readonly primaryKey: readonly string[]
  /** How rows are ordered and paged: by the primary key, or by SQLite's `rowid` / Postgres's `ctid` when there is none. */
  readonly order: 'key' | 'rowid' | 'ctid'
  /** SQLite `AUTOINCREMENT`: rowids are never reused. */
  readonly autoincrement?: boolean
  /** Secondary indexes. */
  readonly indexes: readonly IndexSchema[]
  /** Foreign keys. */
  readonly foreignKeys: readonly ForeignKeySchema[]
  /** CHECK constraints (Postgres sources). */
  readonly checks: readonly CheckSchema[]
  /** Names of generated columns, which are not exported. */
  readonly generated: readonly string[]
  /** SQLite sources: the table's own `CREATE TABLE` statement, reused as it is when the target is SQLite too. */
  readonly sql?: string
}

/** The first line of an export. */
export interface ExportHeader {
  /** Always `'engram-export'`. */
  readonly format: typeof EXPORT_FORMAT
  /** The format version, `1`. */
  readonly version: number
  /** A random id of this export; importing the same export again resumes or adds nothing. */
  readonly exportId: string
  /** The source's dialect. */
  readonly dialect: SqlDialect
  /** When the export started (ISO-8601). */
  readonly createdAt: string
  /** The tables, parents before the tables that reference them; their rows follow in this order. */
  readonly tables: readonly TableSchema[]
  /** Rows each table held when the export counted them (each table's end line has the number written). */
  readonly rowCounts: Readonly<Record<string, number>>
}

/** The line that starts a table's rows. */
export interface TableStart {
  /** The table whose rows follow, one JSON array per line in the header's column order. */
  readonly table: string
}

/** The line that ends a table's rows. */
export interface TableEnd {
  /** The table whose rows ended. */
  readonly end: string
  /** Rows written. */
  readonly rows: number
  /** The order-independent checksum of those rows (see `TableChecksum`). */
  readonly checksum: string
}

/** The last line of a complete export. */
export interface ExportTrailer {
  /** Always `true`. */
  readonly complete: true
  /** Tables written. */
  readonly tables: number
  /** Rows written, over all tables. */
  readonly rows: number
}
