import { createServer } from 'node:net'
import { signJwt } from '@engram/test-servers/postgrest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSupabaseClient, createSupabaseVectorStore, storageErrorFromPostgrest } from '../src/index.js'
import { admin, freshName, localTarget, type SupabaseTarget } from './supabase-test-env.js'

// These need failures only the local server can be made to produce, so they always run on it.
const empty = freshName('engram_empty')
let target: SupabaseTarget

async function failure(action: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await action()
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error('expected the call to fail')
}

function store(options: { key?: string; accessToken?: string; schema?: string; url?: string } = {}) {
  return createSupabaseVectorStore({
    url: options.url ?? target.url,
    key: options.key ?? target.serviceRoleKey,
    schema: options.schema ?? target.schema,
    ...(options.accessToken === undefined ? {} : { accessToken: options.accessToken }),
  })
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address !== null ? address.port : 1
}

beforeAll(async () => {
  target = await localTarget({ extraSchemas: [empty] })
})

afterAll(async () => {
  await target?.close()
})

describe('PostgREST errors become StorageErrors that say what to do', () => {
  it('functions missing from the schema (PGRST202) are NOT_FOUND, pointing at the migration', async () => {
    const error = await failure(() => store({ schema: empty }).listCollections())
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toMatch(
      /The SQL function engram_empty_\w+\.engram_version is missing from this project's API, or has other parameters \(Could not find the function/,
    )
    expect(error.message).toMatch(/applySupabaseMigration.*SUPABASE_MIGRATION_SQL.*reload schema/)
  })

  it('a call whose arguments match no signature (PGRST202) is NOT_FOUND', async () => {
    const client = createSupabaseClient({ url: target.url, key: target.serviceRoleKey })
    const reply = await client.schema(target.schema).rpc('engram_count', { collection: 'x', colour: 'red' })
    const error = storageErrorFromPostgrest(reply.error ?? {}, reply.status, {
      fn: 'engram_count',
      schema: target.schema,
    })
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toContain('(collection, colour)')
  })

  it('two overloads PostgREST cannot choose between (PGRST203) are QUERY_FAILED, saying to drop one', async () => {
    await admin(`CREATE FUNCTION ${empty}.engram_version(extra integer DEFAULT 0) RETURNS integer LANGUAGE sql AS 'SELECT 1';
      CREATE FUNCTION ${empty}.engram_version(other text DEFAULT '') RETURNS integer LANGUAGE sql AS 'SELECT 1'`)
    try {
      const error = await failure(() => store({ schema: empty }).listCollections())
      expect(error.code).toBe('QUERY_FAILED')
      expect(error.message).toMatch(/Two versions of .*engram_version exist.*Drop the older one/)
    } finally {
      await admin(
        `DROP FUNCTION ${empty}.engram_version(integer); DROP FUNCTION ${empty}.engram_version(text)`,
      )
    }
  })

  it('a schema the API does not expose (PGRST106) is INVALID_ARGUMENT', async () => {
    const error = await failure(() => store({ schema: 'not_exposed' }).listCollections())
    expect(error.code).toBe('INVALID_ARGUMENT')
    expect(error.message).toMatch(/does not expose schema "not_exposed".*Exposed schemas/)
  })

  it('a forged or expired token (PGRST301, PGRST303) is CONNECTION_FAILED', async () => {
    const forged = signJwt({ role: 'service_role' }, 'guessed secret')
    const bad = await failure(() => store({ key: target.anonKey as string, accessToken: forged }).count('x'))
    expect(bad.code).toBe('CONNECTION_FAILED')
    expect(bad.message).toMatch(/refused the token \(No suitable key or wrong key type/)
    const expired = target.server?.userToken('4b3a62c5-3c0e-4a43-9d8c-2e1b0f6f7a10', {
      exp: 1_000_000,
    }) as string
    const late = await failure(() =>
      store({ key: target.anonKey as string, accessToken: expired }).count('x'),
    )
    expect(late.code).toBe('CONNECTION_FAILED')
    expect(late.message).toMatch(/JWT expired.*refresh the user's session/)
  })

  it('an API key the gateway does not know is CONNECTION_FAILED', async () => {
    const error = await failure(() => store({ key: 'sb_secret_not-a-real-key' }).listCollections())
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(/HTTP 401 \(Invalid API key/)
  })

  it('a project URL nothing answers on is CONNECTION_FAILED', async () => {
    const port = await closedPort()
    const error = await failure(() => store({ url: `http://127.0.0.1:${port}` }).listCollections())
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(/Could not reach Supabase/)
  })

  it("engram's own errors keep their code and message: a missing collection is NOT_FOUND", async () => {
    const error = await failure(() => store().count('never_created'))
    expect(error.code).toBe('NOT_FOUND')
    expect(error.message).toBe('Collection "never_created" does not exist; create it with createCollection()')
  })

  it('an installed migration older than the package is UNSUPPORTED; none recorded is NOT_FOUND', async () => {
    const log = `${target.dataSchema}.migrations`
    await admin(`UPDATE ${log} SET version = 0`)
    try {
      const error = await failure(() => store().listCollections())
      expect(error.code).toBe('UNSUPPORTED')
      expect(error.message).toMatch(/are version 0; this @engram\/supabase needs version 1/)
      await admin(`DELETE FROM ${log}`)
      expect((await failure(() => store().listCollections())).code).toBe('NOT_FOUND')
    } finally {
      await admin(`DELETE FROM ${log}; INSERT INTO ${log} (version) VALUES (1)`)
    }
    expect(await store().listCollections()).toEqual(expect.any(Array))
  })
})

describe('the SQL functions check what they are sent, whatever the client', () => {
  const rpcError = async (fn: string, args: Record<string, unknown>) => {
    const client = createSupabaseClient({ url: target.url, key: target.serviceRoleKey })
    const reply = await client.schema(target.schema).rpc(fn, args)
    expect(reply.error, `${fn} should have failed`).not.toBeNull()
    return storageErrorFromPostgrest(reply.error ?? {}, reply.status, { fn, schema: target.schema })
  }

  it('a batch with one bad record writes nothing and names the record', async () => {
    const vectors = store()
    await vectors.createCollection('checked', { dimension: 2 })
    try {
      const good = { id: 'good', vector: [1, 0] }
      const cases: Array<[unknown, string, RegExp]> = [
        [{ id: 7, vector: [1, 0] }, 'INVALID_ARGUMENT', /^records\[1\] needs an id/],
        [
          { id: 'x', vector: [1] },
          'DIMENSION_MISMATCH',
          /^records\[1\]\.vector has 1 dimensions; the collection has 2$/,
        ],
        [
          { id: 'x', vector: [1, 0], metadata: ['a'] },
          'INVALID_ARGUMENT',
          /has metadata that is not an object/,
        ],
        [{ id: 'x', vector: [1, 0], text: 5 }, 'INVALID_ARGUMENT', /has text that is not a string/],
        ['not a record', 'INVALID_ARGUMENT', /^records\[1\] must be an object/],
      ]
      for (const [bad, code, message] of cases) {
        const error = await rpcError('engram_upsert', { collection: 'checked', records: [good, bad] })
        expect([error.code, error.message]).toEqual([code, expect.stringMatching(message)])
      }
      expect(await vectors.count('checked')).toBe(0)
    } finally {
      await vectors.dropCollection('checked')
      await vectors.close()
    }
  })

  it('queries, deletes and scans refuse out-of-range arguments', async () => {
    const vectors = store()
    await vectors.createCollection('ranges', { dimension: 2 })
    try {
      expect(
        (await rpcError('engram_query', { collection: 'ranges', query_vector: [1, 0], top_k: 0 })).code,
      ).toBe('INVALID_ARGUMENT')
      expect(
        (await rpcError('engram_query', { collection: 'ranges', query_vector: [1, 0], mode: 'fuzzy' }))
          .message,
      ).toMatch(/mode must be vector, text or hybrid/)
      expect((await rpcError('engram_query', { collection: 'ranges', query_vector: [1, 0, 0] })).code).toBe(
        'DIMENSION_MISMATCH',
      )
      expect(
        (await rpcError('engram_query', { collection: 'ranges', mode: 'text', query_text: '  ' })).code,
      ).toBe('INVALID_ARGUMENT')
      expect(
        (
          await rpcError('engram_delete', {
            collection: 'ranges',
            ids: ['a'],
            filter: { kind: 'and', children: [] },
          })
        ).message,
      ).toMatch(/exactly one of ids or filter/)
      expect((await rpcError('engram_get', { collection: 'ranges', ids: [1, 2] })).message).toMatch(
        /ids must be an array of strings/,
      )
      expect((await rpcError('engram_scan', { collection: 'ranges', batch_size: 10_001 })).code).toBe(
        'INVALID_ARGUMENT',
      )
      expect((await rpcError('engram_create_collection', { collection: '1bad', dimension: 2 })).code).toBe(
        'INVALID_ARGUMENT',
      )
    } finally {
      await vectors.dropCollection('ranges')
      await vectors.close()
    }
  })
})

describe('storageErrorFromPostgrest', () => {
  const context = { fn: 'engram_query', schema: 'public' }

  it('maps SQLSTATEs in the body with the Postgres driver’s table', () => {
    expect(
      storageErrorFromPostgrest(
        { code: '57014', message: 'canceling statement due to statement timeout' },
        500,
        context,
      ).code,
    ).toBe('TIMEOUT')
    expect(storageErrorFromPostgrest({ code: '23505', message: 'duplicate key' }, 409, context).code).toBe(
      'UNIQUE_VIOLATION',
    )
    expect(
      storageErrorFromPostgrest({ code: '40001', message: 'could not serialize' }, 500, context).code,
    ).toBe('SERIALIZATION_FAILURE')
    const denied = storageErrorFromPostgrest(
      { code: '42501', message: 'permission denied for function engram_query' },
      401,
      context,
    )
    expect(denied.code).toBe('QUERY_FAILED')
    expect(denied.message).toMatch(/the anon key alone cannot use them/)
  })

  it('maps PostgREST connection codes and bare HTTP failures to CONNECTION_FAILED, other statuses to QUERY_FAILED', () => {
    expect(
      storageErrorFromPostgrest({ code: 'PGRST000', message: 'Database connection error.' }, 503, context)
        .code,
    ).toBe('CONNECTION_FAILED')
    expect(storageErrorFromPostgrest({ message: '<html>Bad gateway</html>' }, 502, context).code).toBe(
      'CONNECTION_FAILED',
    )
    expect(storageErrorFromPostgrest({ message: 'TypeError: fetch failed', code: '' }, 0, context).code).toBe(
      'CONNECTION_FAILED',
    )
    expect(
      storageErrorFromPostgrest({ code: 'PGRST102', message: 'Empty or invalid json' }, 400, context).code,
    ).toBe('QUERY_FAILED')
    expect(storageErrorFromPostgrest({ message: 'Not acceptable' }, 406, context).code).toBe('QUERY_FAILED')
  })

  it('trusts an engram code only when it is a known one, and keeps the supabase-js error as cause', () => {
    const body = {
      code: '22000',
      message: 'records[0].vector has 2 dimensions',
      details: 'engram:DIMENSION_MISMATCH',
    }
    const error = storageErrorFromPostgrest(body, 400, context)
    expect(error.code).toBe('DIMENSION_MISMATCH')
    expect(error.message).toBe('records[0].vector has 2 dimensions')
    expect(error.cause).toBe(body)
    expect(
      storageErrorFromPostgrest({ code: 'P0001', message: 'x', details: 'engram:MADE_UP' }, 400, context)
        .code,
    ).toBe('QUERY_FAILED')
  })
})
