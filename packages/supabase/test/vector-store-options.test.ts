import { describe, expect, it } from 'vitest'
import {
  createSupabaseClient,
  createSupabaseVectorStore,
  type SupabaseVectorStoreConfig,
} from '../src/index.js'

const url = 'http://127.0.0.1:1'
const key = 'a-key'

function refusal(config: SupabaseVectorStoreConfig): string {
  try {
    createSupabaseVectorStore(config)
  } catch (error) {
    expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT')
    return (error as Error).message
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`)
}

describe('createSupabaseVectorStore options', () => {
  it('makes its own client on Node 20 without a native WebSocket, and reports kind supabase', async () => {
    const store = createSupabaseVectorStore({ url, key })
    expect(store.kind).toBe('supabase')
    expect(store.capabilities).toMatchObject({ hybrid: true, exact: false, maxDimension: 16_000 })
    await store.close()
  })

  it('takes a client, or url and key, never both', () => {
    const client = createSupabaseClient({ url, key })
    expect(refusal({ client, url, key })).toMatch(/either client, or url and key/)
    expect(refusal({ client: {} as never })).toMatch(/must be a supabase-js client/)
    expect(refusal({ url: 'db.example.com', key })).toMatch(/url must be the project URL/)
    expect(refusal({ url, key: '' })).toMatch(/key must be the project's API key/)
  })

  it('takes a tenant only as a Supabase user id', () => {
    expect(refusal({ url, key, tenant: 'acme' })).toMatch(/tenant is a Supabase user id \(a UUID/)
    expect(refusal({ url, key, tenant: 'x'.repeat(300) })).toMatch(/tenant must be a string of at most 256/)
    expect(() =>
      createSupabaseVectorStore({ url, key, tenant: '4B3A62C5-3C0E-4A43-9D8C-2E1B0F6F7A10' }),
    ).not.toThrow()
  })

  it('bounds the search settings to what the SQL functions take', () => {
    expect(refusal({ url, key, exactBelow: 2 ** 31 })).toMatch(
      /exactBelow must be an integer from 0 to 2147483647/,
    )
    expect(refusal({ url, key, exactBelow: -1 })).toMatch(/exactBelow/)
    expect(refusal({ url, key, m: 1 })).toMatch(/m must be an integer from 2 to 100/)
    expect(refusal({ url, key, m: 64, efConstruction: 100 })).toMatch(
      /efConstruction must be at least twice m \(128\)/,
    )
    expect(refusal({ url, key, efSearch: 1001 })).toMatch(/efSearch must be an integer from 1 to 1000/)
    expect(refusal({ url, key, hybridCandidates: 0 })).toMatch(/hybridCandidates/)
    expect(refusal({ url, key, schema: 'Public' })).toMatch(/schema must be a lowercase schema name/)
  })
})
