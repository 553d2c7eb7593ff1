import { StorageError } from '@engram/core'

/** Where the migration puts things. */
export interface MigrationSchemas {
  /** The schema of the functions the store calls; it must be one the project's API exposes. Default is `'public'`. */
  schema?: string
  /** The schema of the tables, which the API never exposes directly. Default is `'engram'`. */
  dataSchema?: string
}

/** The schema names as the SQL text uses them. */
export interface MigrationNames {
  /** The functions' schema, quoted. */
  readonly api: string
  /** The functions' schema, as written. */
  readonly apiName: string
  /** The tables' schema, quoted. */
  readonly data: string
  /** The tables' schema, as written. */
  readonly dataName: string
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Checks the schema names (lowercase identifiers, so they are spelled the same quoted or not) and quotes them. */
export function migrationNames(schemas: MigrationSchemas = {}): MigrationNames {
  if (typeof schemas !== 'object' || schemas === null) {
    throw new StorageError('INVALID_ARGUMENT', 'The migration options are { schema?, dataSchema? }')
  }
  const apiName = checkSchema(schemas.schema ?? 'public', 'schema')
  const dataName = checkSchema(schemas.dataSchema ?? 'engram', 'dataSchema')
  if (apiName === dataName) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `schema and dataSchema are both "${apiName}": keep the tables in a schema the API does not expose`,
    )
  }
  return { api: `"${apiName}"`, apiName, data: `"${dataName}"`, dataName }
}

function checkSchema(name: unknown, option: string): string {
  if (typeof name !== 'string' || !SCHEMA_NAME.test(name)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `${option} must be a lowercase schema name (letters, digits and _, at most 63), got ${JSON.stringify(name)}`,
    )
  }
  return name
}
