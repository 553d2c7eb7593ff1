import { describeStorageAdapter } from '@engram/conformance'
import { afterAll, beforeAll } from 'vitest'
import { createSupabaseAdapter } from '../src/index.js'
import { admin, freshName, PG_URL, requireDatabase } from './supabase-test-env.js'

// The local test server has no TLS, so TLS is turned off explicitly; everything else is the
// adapter as Supabase users get it. Every table lives in this file's own schema.
const schema = freshName('engram_sb_conf')
const locations: string[] = []

beforeAll(async () => {
  await requireDatabase()
  await admin(`CREATE SCHEMA ${schema}`)
})

afterAll(async () => {
  for (const name of [schema, ...locations]) await admin(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
})

describeStorageAdapter(
  'supabase',
  async () => createSupabaseAdapter({ connectionString: PG_URL, tls: false, searchPath: schema }),
  {
    persistence: {
      async newLocation() {
        const location = freshName('engram_sb_loc')
        locations.push(location)
        await admin(`CREATE SCHEMA ${location}`)
        return location
      },
      open: async (location) =>
        createSupabaseAdapter({ connectionString: PG_URL, tls: false, searchPath: location }),
    },
  },
)
