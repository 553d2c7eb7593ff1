import { StorageError } from '@engram/core'
import { type PostgrestErrorLike, storageErrorFromPostgrest } from './postgrest-error.js'

/** What an `rpc()` call resolves to in supabase-js. */
export interface RpcResponse {
  /** The function's result, parsed from JSON. */
  data: unknown
  /** PostgREST's error, or a fetch failure; `null` on success. */
  error: PostgrestErrorLike | null
  /** The HTTP status; `0` when the request never got an answer. */
  status: number
}

/** The part of a supabase-js client the store uses: `client.schema(name).rpc(fn, args)`. */
export interface SupabaseRpcClient {
  /** A client for one schema's functions. */
  schema(name: string): { rpc(fn: string, args?: Record<string, unknown>): PromiseLike<RpcResponse> }
}

/**
 * Calls one of engram's SQL functions through PostgREST and returns its result, or throws the
 * `StorageError` the failure maps to. supabase-js reports network failures as an error with
 * status 0 rather than throwing; anything it does throw is a `CONNECTION_FAILED`.
 */
export async function callRpc<T>(
  client: SupabaseRpcClient,
  schema: string,
  fn: string,
  args: Record<string, unknown>,
): Promise<T> {
  let response: RpcResponse
  try {
    response = await client.schema(schema).rpc(fn, args)
  } catch (error) {
    throw new StorageError(
      'CONNECTION_FAILED',
      `Could not call ${schema}.${fn} on Supabase: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    )
  }
  if (response.error !== null && response.error !== undefined) {
    throw storageErrorFromPostgrest(response.error, response.status, { fn, schema })
  }
  return response.data as T
}
