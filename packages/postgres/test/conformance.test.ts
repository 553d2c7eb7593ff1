import { describeStorageAdapter } from '@engram/conformance'
import { afterAll, beforeAll } from 'vitest'
import { createPostgresAdapter } from '../src/index.js'
import { admin, freshSchema, PG_URL, requireDatabase } from './pg-test-env.js'

// Every table the suite makes lives in this file's own schema, dropped at the end.
const schema = freshSchema('engram_conf')
const preparedSchema = freshSchema('engram_conf_prep')
const locations: string[] = []

beforeAll(async () => {
  await requireDatabase()
  await admin(`CREATE SCHEMA ${schema}; CREATE SCHEMA ${preparedSchema}`)
})

afterAll(async () => {
  for (const name of [schema, preparedSchema, ...locations]) {
    await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
  }
})

describeStorageAdapter(
  'postgres',
  async () => createPostgresAdapter({ connectionString: PG_URL, searchPath: schema }),
  {
    persistence: {
      // A location is a schema: reopening means a new pool whose search_path points at it.
      async newLocation() {
        const location = freshSchema('engram_loc')
        locations.push(location)
        await admin(`CREATE SCHEMA ${location}`)
        return location
      },
      open: async (location) => createPostgresAdapter({ connectionString: PG_URL, searchPath: location }),
    },
  },
)

// The same contract with every statement with parameters prepared once per connection.
describeStorageAdapter('postgres (preparedStatements)', async () =>
  createPostgresAdapter({ connectionString: PG_URL, searchPath: preparedSchema, preparedStatements: true }),
)
