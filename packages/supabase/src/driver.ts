import type { DriverDefinition } from '@engram/core'
import { createSupabaseAdapter, type SupabaseAdapterConfig } from './supabase-adapter.js'

/**
 * The registry entry `createDatabase` uses for `type: 'supabase'`.
 *
 * @example
 * const db = await createDatabase({ type: 'supabase', connectionString: process.env.SUPABASE_DB_URL, ca })
 */
export const driver: DriverDefinition = {
  type: 'supabase',
  dialect: 'postgres',
  async open(options) {
    const { type: _type, url: _url, filename: _filename, ...rest } = options
    return createSupabaseAdapter(rest as unknown as SupabaseAdapterConfig)
  },
}
