import { StorageError } from '@engram/core'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

/** What `createSupabaseClient` needs. */
export interface SupabaseClientOptions {
  /** The project URL, `https://<ref>.supabase.co`. */
  url: string
  /** The project's API key: the anon (publishable) key with `accessToken`, or the service role (secret) key on a server. */
  key: string
  /** A signed-in user's access token (JWT), sent instead of the key as the bearer token. Default is none. */
  accessToken?: string
}

/**
 * Makes a supabase-js client for server-side use: no session persistence or token refresh, and
 * the `ws` package as the realtime transport, because on Node 20 `createClient` throws "native
 * WebSocket not found" without one even when realtime is never used.
 *
 * @example
 * const client = createSupabaseClient({ url: process.env.SUPABASE_URL!, key: process.env.SUPABASE_SERVICE_ROLE_KEY! })
 */
export function createSupabaseClient(options: SupabaseClientOptions): SupabaseClient {
  const { url, key, accessToken } = options
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `url must be the project URL, https://<ref>.supabase.co, got ${JSON.stringify(url)}`,
    )
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      "key must be the project's API key (Project Settings, API Keys)",
    )
  }
  if (accessToken !== undefined && (typeof accessToken !== 'string' || accessToken.length === 0)) {
    throw new StorageError('INVALID_ARGUMENT', "accessToken must be a signed-in user's access token (a JWT)")
  }
  try {
    return createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: {
        transport: WebSocket as unknown as NonNullable<
          NonNullable<Parameters<typeof createClient>[2]>['realtime']
        >['transport'],
      },
      ...(accessToken === undefined ? {} : { accessToken: async () => accessToken }),
    })
  } catch (error) {
    throw new StorageError(
      'INVALID_ARGUMENT',
      `Could not create a Supabase client: ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
}
