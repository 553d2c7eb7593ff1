import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PG_URL } from '../src/postgres/index.js'
import {
  installSupabasePlatform,
  type PostgrestServer,
  signJwt,
  startPostgrestServer,
} from '../src/postgrest/index.js'

const suffix = `${process.pid}_${Math.random().toString(16).slice(2, 10)}`
const api = `pgrst_api_${suffix}`
const hidden = `pgrst_hidden_${suffix}`

// Functions that report what PostgREST set up for them, plus a table under row-level security.
const FIXTURES = `
CREATE SCHEMA ${api};
CREATE SCHEMA ${hidden};
GRANT USAGE ON SCHEMA ${api}, ${hidden} TO anon, authenticated, service_role;
CREATE TABLE ${api}.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner uuid NOT NULL DEFAULT auth.uid(), body text);
ALTER TABLE ${api}.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON ${api}.notes FOR ALL TO authenticated USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
GRANT SELECT, INSERT ON ${api}.notes TO authenticated, service_role;
CREATE FUNCTION ${api}.whoami(note text DEFAULT NULL, extra jsonb DEFAULT NULL) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('note', note, 'extra', extra, 'role', current_user, 'uid', auth.uid(),
    'claims', auth.jwt(), 'read_only', current_setting('transaction_read_only'),
    'search_path', current_setting('search_path'), 'method', current_setting('request.method'),
    'path', current_setting('request.path'), 'apikey', current_setting('request.headers')::jsonb ->> 'apikey')
$$;
CREATE FUNCTION ${api}.double(x integer) RETURNS integer LANGUAGE sql VOLATILE AS $$ SELECT x * 2 $$;
CREATE FUNCTION ${api}.nothing() RETURNS void LANGUAGE sql VOLATILE AS $$ SELECT $$;
CREATE FUNCTION ${api}.numbers(n integer DEFAULT 3) RETURNS SETOF integer LANGUAGE sql STABLE AS $$ SELECT generate_series(1, n) $$;
CREATE FUNCTION ${api}.pairs() RETURNS TABLE (k text, v integer) LANGUAGE sql STABLE AS $$ VALUES ('a', 1), ('b', 2) $$;
CREATE FUNCTION ${api}.fail(state text DEFAULT 'P0001') RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = state, MESSAGE = 'it failed', DETAIL = 'some detail', HINT = 'some hint';
END $$;
CREATE FUNCTION ${api}.add_note(body text DEFAULT '') RETURNS bigint LANGUAGE sql VOLATILE AS $$
  INSERT INTO ${api}.notes (body) VALUES (body) RETURNING id
$$;
CREATE FUNCTION ${api}.add_note_then_fail(body text DEFAULT '') RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  INSERT INTO ${api}.notes (body) VALUES (body);
  RAISE EXCEPTION 'after the insert';
END $$;
CREATE FUNCTION ${api}.count_notes() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM ${api}.notes $$;
CREATE FUNCTION ${api}.twin(a integer) RETURNS integer LANGUAGE sql STABLE AS $$ SELECT a $$;
CREATE FUNCTION ${api}.twin(a text) RETURNS text LANGUAGE sql STABLE AS $$ SELECT a $$;
CREATE FUNCTION ${api}.members_only() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'welcome' $$;
REVOKE ALL ON FUNCTION ${api}.members_only() FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION ${api}.members_only() TO authenticated;
CREATE FUNCTION ${api}.slow() RETURNS void LANGUAGE sql VOLATILE SET statement_timeout = '100ms' AS $$ SELECT pg_sleep(2) $$;
CREATE FUNCTION ${hidden}.whoami() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'hidden' $$;
`

let server: PostgrestServer

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

interface Reply {
  status: number
  headers: Headers
  body: unknown
}

async function call(
  fn: string,
  args: unknown = {},
  init: { token?: string | null; apikey?: string | null; profile?: string; method?: string } = {},
): Promise<Reply> {
  const method = init.method ?? 'POST'
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  const apikey = init.apikey === undefined ? server.anonKey : init.apikey
  if (apikey !== null) headers.apikey = apikey
  const token = init.token === undefined ? server.serviceRoleKey : init.token
  if (token !== null) headers.Authorization = `Bearer ${token}`
  if (init.profile) headers[method === 'POST' ? 'Content-Profile' : 'Accept-Profile'] = init.profile
  const query = method === 'POST' ? '' : `?${new URLSearchParams(args as Record<string, string>).toString()}`
  const response = await fetch(`${server.url}/rest/v1/rpc/${fn}${query}`, {
    method,
    headers,
    ...(method === 'POST' ? { body: typeof args === 'string' ? args : JSON.stringify(args) } : {}),
  })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  }
}

beforeAll(async () => {
  await installSupabasePlatform(PG_URL)
  await admin(FIXTURES)
  server = await startPostgrestServer({ connectionString: PG_URL, schemas: [api, 'public'] })
})

afterAll(async () => {
  await server?.close()
  await admin(`DROP SCHEMA IF EXISTS ${api} CASCADE; DROP SCHEMA IF EXISTS ${hidden} CASCADE`)
})

describe('the gateway', () => {
  it('refuses a request without an apikey header', async () => {
    const reply = await call('whoami', {}, { apikey: null })
    expect(reply.status).toBe(401)
    expect(reply.body).toMatchObject({ message: 'No API key found in request' })
  })

  it('refuses an apikey that is not one of the project keys', async () => {
    const reply = await call('whoami', {}, { apikey: server.signJwt({ role: 'anon' }).replace(/.$/, 'x') })
    expect(reply.status).toBe(401)
    expect(reply.body).toMatchObject({ message: 'Invalid API key' })
  })
})

describe('authentication', () => {
  it('runs a request without a token as anon, with the role in request.jwt.claims', async () => {
    const reply = await call('whoami', {}, { token: null })
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ role: 'anon', uid: null, claims: { role: 'anon' } })
  })

  it("switches to the token's role and exposes its claims to auth.uid() and auth.jwt()", async () => {
    const user = randomUUID()
    const reply = await call('whoami', {}, { token: server.userToken(user, { email: 'ada@example.com' }) })
    expect(reply.body).toMatchObject({
      role: 'authenticated',
      uid: user,
      claims: { sub: user, role: 'authenticated', email: 'ada@example.com' },
    })
    expect((await call('whoami')).body).toMatchObject({ role: 'service_role', uid: null })
  })

  it('rejects a token signed with another secret with PGRST301 and a WWW-Authenticate header', async () => {
    const forged = signJwt({ role: 'service_role' }, 'not the secret')
    const reply = await call('whoami', {}, { token: forged })
    expect(reply.status).toBe(401)
    expect(reply.body).toEqual({
      code: 'PGRST301',
      message: 'No suitable key or wrong key type',
      details: 'None of the keys was able to decode the JWT',
      hint: null,
    })
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/)
  })

  it('rejects a token without three parts, and one whose algorithm is not HS256', async () => {
    expect((await call('whoami', {}, { token: 'abc.def' })).body).toMatchObject({
      code: 'PGRST301',
      message: 'Expected 3 parts in JWT; got 2',
    })
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    const payload = Buffer.from(JSON.stringify({ role: 'service_role' })).toString('base64url')
    const reply = await call('whoami', {}, { token: `${header}.${payload}.` })
    expect(reply.status).toBe(401)
    expect(reply.body).toMatchObject({ code: 'PGRST301', message: 'Wrong or unsupported encoding algorithm' })
  })

  it('rejects an expired token with PGRST303 and accepts one within the 30 seconds of skew', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await call('whoami', {}, { token: server.userToken(randomUUID(), { exp: now - 120 }) })
    expect(expired.status).toBe(401)
    expect(expired.body).toMatchObject({ code: 'PGRST303', message: 'JWT expired' })
    const recent = await call('whoami', {}, { token: server.userToken(randomUUID(), { exp: now - 5 }) })
    expect(recent.status).toBe(200)
  })

  it('answers 401 for a role claim that names no role', async () => {
    const reply = await call('whoami', {}, { token: server.signJwt({ role: 'nobody_at_all' }) })
    expect(reply.status).toBe(401)
    expect(reply.body).toMatchObject({ code: '22023', message: 'role "nobody_at_all" does not exist' })
  })
})

describe('finding the function', () => {
  it('passes JSON arguments by name and lets left-out parameters take their defaults', async () => {
    const reply = await call('whoami', { note: 'hi', extra: { nested: [1, 'two'] } })
    expect(reply.body).toMatchObject({ note: 'hi', extra: { nested: [1, 'two'] } })
    expect((await call('whoami', { extra: 5 })).body).toMatchObject({ note: null, extra: 5 })
  })

  it('answers PGRST202 with the closest signature when an argument name matches no parameter', async () => {
    const reply = await call('whoami', { nope: 1, note: 'x' })
    expect(reply.status).toBe(404)
    expect(reply.body).toEqual({
      code: 'PGRST202',
      message: `Could not find the function ${api}.whoami(nope, note) in the schema cache`,
      details: `Searched for the function ${api}.whoami with parameters nope, note or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
      hint: `Perhaps you meant to call the function ${api}.whoami(extra, note)`,
    })
  })

  it('answers PGRST202 when a parameter without a default is left out', async () => {
    const reply = await call('double', {})
    expect(reply.status).toBe(404)
    expect(reply.body).toMatchObject({
      code: 'PGRST202',
      message: `Could not find the function ${api}.double without parameters in the schema cache`,
    })
    expect((await call('double', { x: 21 })).body).toBe(42)
  })

  it('answers PGRST202 for an unknown function, hinting at a similar name', async () => {
    const reply = await call('whoamii')
    expect(reply.status).toBe(404)
    expect(reply.body).toMatchObject({
      code: 'PGRST202',
      hint: `Perhaps you meant to call the function ${api}.whoami`,
    })
    expect((await call('something_else_entirely')).body).toMatchObject({ code: 'PGRST202', hint: null })
  })

  it('answers PGRST203 for overloads with the same argument names', async () => {
    const reply = await call('twin', { a: 1 })
    expect(reply.status).toBe(300)
    expect(reply.body).toMatchObject({ code: 'PGRST203' })
  })

  it('selects the schema from Content-Profile (POST) or Accept-Profile (GET) and names it in the response', async () => {
    const reply = await call('whoami', {}, { profile: api })
    expect(reply.status).toBe(200)
    expect(reply.headers.get('content-profile')).toBe(api)
    expect(reply.body).toMatchObject({ search_path: `"${api}", "public", "extensions"` })
    const get = await call('numbers', { n: '2' }, { method: 'GET', profile: api })
    expect(get.body).toEqual([1, 2])
  })

  it('refuses a schema that is not exposed with PGRST106', async () => {
    const reply = await call('whoami', {}, { profile: hidden })
    expect(reply.status).toBe(406)
    expect(reply.body).toEqual({
      code: 'PGRST106',
      message: `Invalid schema: ${hidden}`,
      details: null,
      hint: `Only the following schemas are exposed: ${api}, public`,
    })
  })

  it('refuses a body that is not a JSON object with PGRST102', async () => {
    const reply = await call('whoami', '{"note": ')
    expect(reply.status).toBe(400)
    expect(reply.body).toMatchObject({ code: 'PGRST102' })
  })
})

describe('running the call', () => {
  it('runs STABLE functions and every GET read-only, and VOLATILE functions POSTed read-write', async () => {
    expect((await call('whoami')).body).toMatchObject({
      read_only: 'on',
      method: 'POST',
      path: '/rpc/whoami',
    })
    const token = server.userToken(randomUUID())
    const reply = await call('add_note', { body: 'by GET' }, { token, method: 'GET' })
    expect(reply.status).toBe(405)
    expect(reply.body).toMatchObject({ code: '25006' })
    expect((await call('add_note', { body: 'by POST' }, { token })).status).toBe(200)
  })

  it('answers 204 for a void function, an array for sets, and a Content-Range', async () => {
    const empty = await call('nothing')
    expect(empty.status).toBe(204)
    expect(empty.body).toBeUndefined()
    const numbers = await call('numbers', { n: 3 })
    expect(numbers.body).toEqual([1, 2, 3])
    expect(numbers.headers.get('content-range')).toBe('0-2/*')
    expect((await call('pairs')).body).toEqual([
      { k: 'a', v: 1 },
      { k: 'b', v: 2 },
    ])
    expect((await call('double', { x: 2 })).headers.get('content-range')).toBe('0-0/*')
  })

  it("maps SQLSTATEs to PostgREST's statuses with the error's message, details and hint", async () => {
    const raised = await call('fail')
    expect(raised.status).toBe(400)
    expect(raised.body).toEqual({
      code: 'P0001',
      message: 'it failed',
      details: 'some detail',
      hint: 'some hint',
    })
    expect((await call('fail', { state: '23505' })).status).toBe(409)
    expect((await call('fail', { state: 'PT402' })).status).toBe(402)
    expect((await call('fail', { state: '40001' })).status).toBe(500)
  })

  it('answers 401 to anon and 403 to a signed-in role for a function it may not execute', async () => {
    const anon = await call('members_only', {}, { token: null })
    expect(anon.status).toBe(401)
    expect(anon.body).toMatchObject({ code: '42501' })
    expect(anon.headers.get('www-authenticate')).toBe('Bearer')
    const user = await call('members_only', {}, { token: server.userToken(randomUUID()) })
    expect(user.status).toBe(200)
    expect(user.body).toBe('welcome')
    const other = await call('members_only', {}, { token: server.signJwt({ role: 'service_role' }) })
    expect(other.status).toBe(403)
  })

  it("applies the function's own statement_timeout to the whole call, as PostgREST hoists it", async () => {
    // Set on the function alone, the timeout would start after the statement did and never fire.
    const reply = await call('slow')
    expect(reply.status).toBe(500)
    expect(reply.body).toMatchObject({
      code: '57014',
      message: 'canceling statement due to statement timeout',
    })
  })

  it('rolls the whole call back when the function fails', async () => {
    const token = server.userToken(randomUUID())
    expect((await call('add_note_then_fail', { body: 'lost' }, { token })).status).toBe(400)
    expect((await call('count_notes', {}, { token })).body).toBe(0)
  })

  it("enforces row-level security for the token's user", async () => {
    const alice = server.userToken(randomUUID())
    const bob = server.userToken(randomUUID())
    expect((await call('add_note', { body: 'mine' }, { token: alice })).status).toBe(200)
    expect((await call('count_notes', {}, { token: alice })).body).toBe(1)
    expect((await call('count_notes', {}, { token: bob })).body).toBe(0)
    expect((await call('count_notes')).body).toBeGreaterThanOrEqual(1)
  })
})

describe('through supabase-js', () => {
  it('serves rpc() as supabase-js sends it, with the schema as Content-Profile', async () => {
    // Realtime is never used here; any class satisfies supabase-js's transport check on Node 20.
    const client = createClient(server.url, server.serviceRoleKey, {
      realtime: { transport: class {} as never },
      auth: { persistSession: false, autoRefreshToken: false },
    })
    const reply = await client.schema(api).rpc('whoami', { note: 'from supabase-js' })
    expect(reply.error).toBeNull()
    expect(reply.data).toMatchObject({ note: 'from supabase-js', role: 'service_role' })
    const missing = await client.schema(api).rpc('whoami', { wrong: true })
    expect(missing.status).toBe(404)
    expect(missing.error).toMatchObject({ code: 'PGRST202' })
    const hiddenSchema = await client.schema(hidden).rpc('whoami')
    expect(hiddenSchema.error).toMatchObject({ code: 'PGRST106' })
  })
})
