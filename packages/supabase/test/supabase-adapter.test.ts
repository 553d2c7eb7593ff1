import { createDatabase, registerDriver, type StorageErrorCode } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSupabaseAdapter, detectPooler, driver, type SupabaseAdapter } from '../src/index.js'
import { LOCALHOST_CERT } from './fixtures/localhost-certificate.js'
import { startTlsProxy, type TlsProxy } from './fixtures/tls-proxy.js'
import { PG_URL, requireDatabase } from './supabase-test-env.js'

const POOLER = 'postgres://postgres.abcdefghijklmnop:secret@aws-0-eu-west-1.pooler.supabase.com'
const DIRECT = 'postgres://postgres:secret@db.abcdefghijklmnop.supabase.co:5432/postgres'

async function failure(action: () => unknown): Promise<{ code: StorageErrorCode; message: string }> {
  try {
    await action()
  } catch (error) {
    return error as { code: StorageErrorCode; message: string }
  }
  throw new Error('expected the call to fail')
}

/** The test database's URL with another host and port (user and database kept). */
function via(host: string, port: number): string {
  const url = new URL(PG_URL)
  url.hostname = host
  url.port = String(port)
  return url.toString()
}

let proxy: TlsProxy
const opened: SupabaseAdapter[] = []
const open = (config: Parameters<typeof createSupabaseAdapter>[0]) => {
  const adapter = createSupabaseAdapter(config)
  opened.push(adapter)
  return adapter
}

beforeAll(async () => {
  await requireDatabase()
  const url = new URL(PG_URL)
  proxy = await startTlsProxy({ host: url.hostname, port: Number(url.port) || 5432 })
})

afterAll(async () => {
  for (const adapter of opened) await adapter.close()
  await proxy?.close()
})

describe('pooler detection', () => {
  it('treats port 6543 as the transaction pooler, other pooler.supabase.com ports as the session pooler', () => {
    expect(detectPooler('aws-0-eu-west-1.pooler.supabase.com', 6543)).toBe('transaction')
    expect(detectPooler('db.abcdefghijklmnop.supabase.co', '6543')).toBe('transaction')
    expect(detectPooler('aws-0-eu-west-1.pooler.supabase.com', 5432)).toBe('session')
    expect(detectPooler('db.abcdefghijklmnop.supabase.co', 5432)).toBe('none')
    expect(detectPooler('localhost', undefined)).toBe('none')
  })

  it('reports the pooler of the connection string without connecting', async () => {
    expect(open({ connectionString: `${POOLER}:6543/postgres` }).pooler).toBe('transaction')
    expect(open({ connectionString: `${POOLER}:5432/postgres` }).pooler).toBe('session')
    expect(open({ connectionString: DIRECT }).pooler).toBe('none')
    expect(open({ connectionString: DIRECT, pooler: 'transaction' }).pooler).toBe('transaction')
  })

  it('refuses session settings on the transaction pooler, saying where they can go', () => {
    const transaction = `${POOLER}:6543/postgres`
    expect(() => createSupabaseAdapter({ connectionString: transaction, statementTimeout: 5000 })).toThrow(
      /statementTimeout cannot be used here: the transaction pooler .*\(ALTER ROLE .*session pooler \(port 5432\)/,
    )
    expect(() => createSupabaseAdapter({ connectionString: transaction, searchPath: 'app' })).toThrow(
      /searchPath cannot be used here/,
    )
    expect(() =>
      createSupabaseAdapter({ connectionString: `${transaction}?options=-c%20search_path%3Dapp` }),
    ).toThrow(/options parameter cannot be used here/)
    // The session pooler and direct connections keep session settings.
    expect(
      open({ connectionString: `${POOLER}:5432/postgres`, statementTimeout: 5000, searchPath: 'app' }).pooler,
    ).toBe('session')
  })

  it('uses no named prepared statements, so the transaction pooler can run its statements', async () => {
    const db = open({ connectionString: PG_URL, tls: false, pooler: 'transaction', max: 1 })
    await db.get('SELECT ?::int AS n', [1])
    await db.transaction(async (tx) => {
      await tx.all('SELECT generate_series(1, ?::int) AS n', [3])
      await tx.transaction(async (inner) => inner.run('SELECT 1'))
    })
    for await (const _row of db.iterate('SELECT generate_series(1, 3) AS n')) {
      // read to the end
    }
    const prepared = await db.get<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')
    expect(prepared?.n).toBe(0)
  })
})

describe('options', () => {
  it('rejects TLS parameters in the URL that would weaken verification', () => {
    for (const parameter of ['sslmode=disable', 'sslmode=prefer', 'sslmode=no-verify', 'ssl=false']) {
      expect(() => createSupabaseAdapter({ connectionString: `${DIRECT}?${parameter}` })).toThrow(
        /would turn off TLS/,
      )
    }
    expect(() => createSupabaseAdapter({ connectionString: `${DIRECT}?sslrootcert=ca.crt` })).toThrow(
      /Pass the certificate itself as ca/,
    )
    expect(() =>
      createSupabaseAdapter({ connectionString: `${DIRECT}?sslmode=require`, tls: false }),
    ).toThrow(/sets sslmode=require but tls is false/)
  })

  it('accepts sslmode=require or verify-full, and still verifies the certificate', async () => {
    const db = open({ connectionString: `${via('localhost', proxy.port)}?sslmode=require` })
    const error = await failure(() => db.get('SELECT 1 AS one'))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(/did not verify/)
  })

  it('refuses contradictory or malformed options with INVALID_ARGUMENT', async () => {
    for (const config of [
      { connectionString: '' },
      { connectionString: 'host=localhost dbname=postgres' },
      { connectionString: 'mysql://localhost/db' },
      { connectionString: DIRECT, tls: false, ca: LOCALHOST_CERT },
      { connectionString: DIRECT, ca: [] },
      { connectionString: DIRECT, pooler: 'sometimes' as 'none' },
    ]) {
      expect((await failure(() => createSupabaseAdapter(config))).code).toBe('INVALID_ARGUMENT')
    }
  })
})

describe('TLS', () => {
  it('refuses a server without TLS by default, saying to pass tls: false for a local one', async () => {
    const db = open({ connectionString: PG_URL })
    const error = await failure(() => db.get('SELECT 1 AS one'))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(/does not offer TLS\. Supabase's servers always do.*pass tls: false/)
  })

  it('refuses a certificate it cannot verify, saying to pass Supabase root certificate as ca', async () => {
    const db = open({ connectionString: via('localhost', proxy.port) })
    const error = await failure(() => db.get('SELECT 1 AS one'))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(
      /TLS certificate did not verify \(DEPTH_ZERO_SELF_SIGNED_CERT: .*\)\. Pass ca with Supabase's root certificate/,
    )
  })

  it('connects over verified TLS when given the certificate as ca', async () => {
    const db = open({ connectionString: via('localhost', proxy.port), ca: LOCALHOST_CERT })
    const row = await db.get<{ ssl: boolean }>('SELECT 1 AS one')
    expect(row).toEqual({ one: 1 })
    await db.transaction(async (tx) => {
      expect(await tx.get('SELECT 2 AS two')).toEqual({ two: 2 })
    })
  })

  it('checks the host name: a certificate for localhost does not pass for 127.0.0.1', async () => {
    const db = open({ connectionString: via('127.0.0.1', proxy.port), ca: LOCALHOST_CERT })
    const error = await failure(() => db.get('SELECT 1 AS one'))
    expect(error.code).toBe('CONNECTION_FAILED')
    expect(error.message).toMatch(/certificate is for another host/)
  })
})

describe('createDatabase', () => {
  // An application finds the package by name; from inside this workspace, core cannot, so the
  // test registers the package's driver export, which is what that lookup returns.
  beforeAll(() => registerDriver(driver))

  it("opens the Supabase driver for type 'supabase', reporting kind 'supabase'", async () => {
    const db = await createDatabase({ type: 'supabase', url: PG_URL, tls: false })
    opened.push(db as SupabaseAdapter)
    expect(db.kind).toBe('supabase')
    expect(db.dialect).toBe('postgres')
    expect(await db.get('SELECT 3 AS three')).toEqual({ three: 3 })
  })

  it("passes the driver's own options through, so TLS stays on unless tls: false is given", async () => {
    const db = await createDatabase({ type: 'supabase', connectionString: PG_URL })
    opened.push(db as SupabaseAdapter)
    expect((await failure(() => db.get('SELECT 1'))).message).toMatch(/does not offer TLS/)
  })
})
