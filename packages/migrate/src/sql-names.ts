import type { SqlDialect } from '@engram/core'

/** A table, column or index name as a quoted SQL identifier (the same on SQLite and Postgres). */
export function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * The name a source table or column gets in the target. SQLite names are case-insensitive and
 * applications write them unquoted, which Postgres folds to lower case, so a SQLite name
 * becomes lower case in Postgres; every other pair keeps the name as it is.
 */
export function targetName(from: SqlDialect, to: SqlDialect, name: string): string {
  return from === 'sqlite' && to === 'postgres' ? name.toLowerCase() : name
}
