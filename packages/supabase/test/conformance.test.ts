import { describeVectorStore } from '@engram/conformance'
import { afterAll, beforeAll } from 'vitest'
import { createSupabaseVectorStore } from '../src/index.js'
import { openTarget, type SupabaseTarget } from './supabase-test-env.js'

// supabase-js (with the store's own client and its ws transport) → the PostgREST test server,
// or a real project when SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are set → PostgreSQL.
let target: SupabaseTarget

beforeAll(async () => {
  target = await openTarget()
})

afterAll(async () => {
  await target?.close()
})

describeVectorStore('supabase', async () =>
  createSupabaseVectorStore({ url: target.url, key: target.serviceRoleKey, schema: target.schema }),
)
