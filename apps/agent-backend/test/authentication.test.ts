import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { authConfigFromEnv, ConfigError } from '../src/auth-config.js'
import { type RunningServer, type ServerEnv, startServer } from '../src/start-server.js'
import { signJwt, TEST_SECRET, tokenFor } from './sign-jwt.js'

const folder = mkdtempSync(join(tmpdir(), 'engram-agent-auth-'))
let dirs = 0
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const ADA_TOKEN = 'ada-0123456789abcdef0123456789abcdef'
const BOB_TOKEN = 'bob-0123456789abcdef0123456789abcdef'

/** Starts the real server (SQLite in a fresh folder, a free port) and stops it when the test ends. */
async function serve(env: ServerEnv): Promise<RunningServer & { base: string }> {
  const running = await startServer({ ENGRAM_DATA_DIR: join(folder, `data-${++dirs}`), PORT: '0', ...env })
  onTestFinished(async () => {
    running.server.closeAllConnections()
    await new Promise<void>((resolve) => running.server.close(() => resolve()))
    await running.opened.close()
  })
  const host = running.address.family === 'IPv6' ? `[${running.address.address}]` : running.address.address
  return { ...running, base: `http://${host}:${running.address.port}` }
}

async function call(base: string, path: string, token?: string, init: RequestInit = {}) {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const response = await fetch(`${base}${path}`, { ...init, headers })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined }
}

const now = () => Math.floor(Date.now() / 1000)

describe('agent backend start-up', () => {
  it('refuses to start when no authentication is configured, before opening anything', async () => {
    const data = join(folder, 'never-opened')
    const error = await startServer({ ENGRAM_DATA_DIR: data, PORT: '0' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(
      /ENGRAM_AUTH_TOKENS.*ENGRAM_AUTH_JWT_SECRET.*ENGRAM_INSECURE_NO_AUTH=1/,
    )
    expect(existsSync(data)).toBe(false)
  })

  it('binds 127.0.0.1 by default', async () => {
    const running = await serve({ ENGRAM_AUTH_TOKENS: JSON.stringify({ ada: ADA_TOKEN }) })
    expect(running.address.address).toBe('127.0.0.1')
  })

  it('runs without authentication only when asked explicitly, on a loopback address, and says so', async () => {
    const running = await serve({ ENGRAM_INSECURE_NO_AUTH: '1' })
    expect(running.banner.join('\n')).toMatch(/WARNING: .*no authentication/)
    expect((await call(running.base, '/users/anyone/conversations')).status).toBe(200)
    await expect(startServer({ ENGRAM_INSECURE_NO_AUTH: '1', HOST: '0.0.0.0', PORT: '0' })).rejects.toThrow(
      /only runs on a loopback address/,
    )
  })

  it('refuses weak or contradictory authentication settings with a message saying what to fix', () => {
    const cases: Array<[ServerEnv, RegExp]> = [
      [{ ENGRAM_AUTH_TOKENS: '{"ada": "short"}' }, /at least 32 characters/],
      [{ ENGRAM_AUTH_TOKENS: 'ada=token' }, /must be JSON/],
      [{ ENGRAM_AUTH_TOKENS: '["x"]' }, /JSON object/],
      [{ ENGRAM_AUTH_TOKENS: JSON.stringify({ ada: ADA_TOKEN, bob: ADA_TOKEN }) }, /same token/],
      [{ ENGRAM_AUTH_TOKENS: JSON.stringify({ 'a\u0000b': ADA_TOKEN }) }, /not a valid user id/],
      [{ ENGRAM_AUTH_TOKENS: JSON.stringify({ 'T\uD800': ADA_TOKEN }) }, /not a valid user id/],
      [{ ENGRAM_AUTH_JWT_SECRET: 'too short' }, /at least 32 bytes/],
      [{ ENGRAM_INSECURE_NO_AUTH: '1', ENGRAM_AUTH_JWT_SECRET: TEST_SECRET }, /unset one or the other/],
      [{ ENGRAM_INSECURE_NO_AUTH: 'yes' }, /must be 1/],
    ]
    for (const [env, message] of cases) expect(() => authConfigFromEnv(env)).toThrow(message)
  })
})

describe('agent backend with bearer tokens', () => {
  const env = { ENGRAM_AUTH_TOKENS: JSON.stringify({ ada: ADA_TOKEN, bob: [BOB_TOKEN] }) }

  it('answers only requests that carry a known token, for the user the token belongs to', async () => {
    const { base } = await serve(env)
    const missing = await call(base, '/users/ada/conversations')
    expect(missing.status).toBe(401)
    expect(missing.body.error.code).toBe('UNAUTHENTICATED')
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="engram"')
    const wrong = await call(base, '/users/ada/conversations', `${ADA_TOKEN}x`)
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
    const basic = await fetch(`${base}/users/ada/conversations`, {
      headers: { authorization: `Basic ${ADA_TOKEN}` },
    })
    expect(basic.status).toBe(401)
    expect((await call(base, '/users/ada/conversations', ADA_TOKEN)).status).toBe(200)
    expect((await call(base, '/users/bob/conversations', BOB_TOKEN)).status).toBe(200)
    // Health stays open for load balancers and says nothing about any user.
    expect((await call(base, '/health')).status).toBe(200)
  })

  it("refuses, with 403, a token used on another user's path, and writes nothing there", async () => {
    const { base, opened } = await serve(env)
    const turn = { role: 'user', content: 'I am bob' }
    const forged = await call(base, '/users/ada/conversations/c1/turns', BOB_TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(turn),
    })
    expect(forged.status).toBe(403)
    expect(forged.body.error.code).toBe('FORBIDDEN')
    expect((await call(base, '/users/ada/recall?q=bob', BOB_TOKEN)).status).toBe(403)
    expect(await opened.memory.conversations.listUserConversations('ada')).toEqual([])
  })

  it('refuses malformed user ids in the path with 400', async () => {
    const { base } = await serve({ ENGRAM_INSECURE_NO_AUTH: '1' })
    for (const path of [
      '/users/a%00b/conversations',
      `/users/${'u'.repeat(257)}/conversations`,
      '/users/%ED%A0%80/conversations',
    ]) {
      const reply = await call(base, path)
      expect(reply.status, path).toBe(400)
      expect(reply.body.error.code).toBe('INVALID_ARGUMENT')
    }
    const conversation = await call(base, '/users/ada/conversations/c%00d')
    expect(conversation.status).toBe(400)
  })
})

describe('agent backend with HS256 JWTs', () => {
  const env = {
    ENGRAM_AUTH_JWT_SECRET: TEST_SECRET,
    ENGRAM_AUTH_JWT_ISSUER: 'https://issuer.test',
    ENGRAM_AUTH_JWT_AUDIENCE: 'engram',
  }
  const good = { iss: 'https://issuer.test', aud: ['engram', 'other'] }

  it('maps a valid token to its sub, and holds it to that user', async () => {
    const { base } = await serve(env)
    const token = signJwt({ ...good, sub: 'ada', exp: now() + 60 })
    expect((await call(base, '/users/ada/conversations', token)).status).toBe(200)
    expect((await call(base, '/users/bob/conversations', token)).status).toBe(403)
  })

  it('refuses forged, expired, premature, misaddressed and malformed tokens with 401', async () => {
    const { base } = await serve(env)
    const claims = { ...good, sub: 'ada', exp: now() + 60 }
    const forged = signJwt(claims).split('.')
    const tampered = `${forged[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: 'bob' })).toString('base64url')}.${forged[2]}`
    const cases: Array<[string, string]> = [
      [signJwt(claims, { secret: 'another secret that is also longer than 32 bytes' }), 'signature'],
      [tampered, 'signature'],
      [signJwt(claims, { header: { alg: 'none' } }), 'HS256'],
      [
        `${signJwt(claims, { header: { alg: 'none' } })
          .split('.')
          .slice(0, 2)
          .join('.')}.`,
        'compact JWT',
      ],
      [signJwt(claims, { header: { alg: 'HS512' } }), 'HS256'],
      [signJwt({ ...claims, exp: now() - 120 }), 'expired'],
      [signJwt({ ...good, sub: 'ada' }), 'no exp'],
      [signJwt({ ...claims, nbf: now() + 600 }), 'not valid yet'],
      [signJwt({ ...claims, iss: 'https://evil.test' }), 'issuer'],
      [signJwt({ ...claims, aud: 'someone-else' }), 'audience'],
      [signJwt({ ...claims, sub: 'a\u0000b' }), 'not a valid user id'],
      [signJwt({ ...claims, sub: 'T\uD800' }), 'not a valid user id'],
      [signJwt({ ...claims, sub: 42 }), 'not a valid user id'],
      ['not-a-jwt', 'compact JWT'],
    ]
    for (const [token, reason] of cases) {
      const reply = await call(base, '/users/ada/conversations', token)
      expect(reply.status, reason).toBe(401)
      expect(reply.body.error.message, reason).toContain(reason)
    }
  })

  it('accepts both static tokens and JWTs when both are configured', async () => {
    const { base } = await serve({ ...env, ENGRAM_AUTH_TOKENS: JSON.stringify({ bob: BOB_TOKEN }) })
    expect((await call(base, '/users/bob/conversations', BOB_TOKEN)).status).toBe(200)
    expect(
      (await call(base, '/users/ada/conversations', signJwt({ ...good, sub: 'ada', exp: now() + 60 })))
        .status,
    ).toBe(200)
    expect((await call(base, '/users/ada/conversations', tokenFor('ada'))).status).toBe(401)
  })
})
