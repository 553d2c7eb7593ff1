import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Memory } from '@engram/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authConfigFromEnv } from '../src/auth-config.js'
import { createAuthenticator } from '../src/authenticator.js'
import { createApp } from '../src/create-app.js'
import { TEST_SECRET, tokenFor } from './sign-jwt.js'
import { postgresBackend, sqliteBackend, type TestBackend } from './test-backends.js'

/** A started server on 127.0.0.1:0 and a small JSON client for it. */
interface Running {
  server: Server
  base: string
  serverErrors: unknown[]
}

async function start(memory: Memory): Promise<Running> {
  const serverErrors: unknown[] = []
  const auth = createAuthenticator(authConfigFromEnv({ ENGRAM_AUTH_JWT_SECRET: TEST_SECRET }))
  const server = createServer(createApp({ memory, auth, onServerError: (error) => serverErrors.push(error) }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { server, base: `http://127.0.0.1:${port}`, serverErrors }
}

async function stop(running: Running | undefined): Promise<void> {
  if (!running) return
  running.server.closeAllConnections()
  await new Promise<void>((resolve) => running.server.close(() => resolve()))
}

interface Reply {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: test replies are read field by field
  body: any
  headers: Headers
}

/** Calls the server as the user named in the path (with a JWT for that user), like a real client. */
async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {}
  const user = /^\/users\/([^/?]+)/.exec(path)?.[1]
  if (user !== undefined) headers.authorization = `Bearer ${tokenFor(decodeURIComponent(user))}`
  const init: RequestInit = { method, headers }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
  }
  const response = await fetch(`${base}${path}`, init)
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
}

let users = 0
/** A user id no other test uses, so tests share one server without seeing each other's data. */
const newUser = (label: string) => `${label}-${++users}-${Math.random().toString(16).slice(2, 8)}`

for (const makeBackend of [sqliteBackend, postgresBackend]) {
  const backend: TestBackend = makeBackend()

  describe(`agent backend over HTTP on ${backend.name}`, () => {
    let running: Running | undefined
    let api: (method: string, path: string, body?: unknown) => Promise<Reply>

    beforeAll(async () => {
      running = await start(await backend.open())
      const base = running.base
      api = (method, path, body) => call(base, method, path, body)
    })
    afterAll(async () => {
      await stop(running)
      await backend.cleanup()
    })

    it('reports health with the storage and vector kinds', async () => {
      const reply = await api('GET', '/health')
      expect(reply.status).toBe(200)
      expect(reply.body).toEqual({ ok: true, storage: backend.storageKind, vectors: backend.vectorsKind })
    })

    it('stores turns and retrieves them oldest first with every field intact', async () => {
      const user = newUser('ada')
      const turns = `/users/${user}/conversations/c1/turns`
      const first = await api('POST', turns, { role: 'user', content: 'Hello', timestamp: 1_000 })
      expect(first.status).toBe(201)
      expect(typeof first.body.storageId).toBe('string')
      const second = await api('POST', turns, {
        role: 'assistant',
        content: null,
        timestamp: '1970-01-01T00:00:02.000Z',
        agentId: 'helper',
        model: 'gpt-test',
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        tool_calls: [{ id: 'call-1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
        metadata: { latencyMs: 42 },
        summary: 'asks a tool',
      })
      expect(second.status).toBe(201)
      await api('POST', turns, {
        role: 'tool',
        content: '{"found":true}',
        tool_call_id: 'call-1',
        timestamp: 3_000,
      })

      const all = await api('GET', turns)
      expect(all.status).toBe(200)
      expect(all.body.map((t: { role: string }) => t.role)).toEqual(['user', 'assistant', 'tool'])
      expect(all.body[0]).toMatchObject({
        storageId: first.body.storageId,
        content: 'Hello',
        timestamp: 1_000,
      })
      expect(all.body[1]).toMatchObject({
        storageId: second.body.storageId,
        userId: user,
        conversationId: 'c1',
        content: null,
        timestamp: 2_000,
        agentId: 'helper',
        model: 'gpt-test',
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
        tool_calls: [{ id: 'call-1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
        metadata: { latencyMs: 42 },
        summary: 'asks a tool',
      })
      expect(all.body[2]).toMatchObject({ tool_call_id: 'call-1' })
    })

    it('pages, orders and filters turns through the query string', async () => {
      const user = newUser('paging')
      const turns = `/users/${user}/conversations/c1/turns`
      for (let i = 1; i <= 5; i++) {
        await api('POST', turns, {
          role: i % 2 ? 'user' : 'assistant',
          content: `turn ${i}`,
          timestamp: i * 1_000,
        })
      }
      const contents = (reply: Reply) => reply.body.map((t: { content: string }) => t.content)
      expect(contents(await api('GET', `${turns}?order=desc&limit=2`))).toEqual(['turn 5', 'turn 4'])
      expect(contents(await api('GET', `${turns}?limit=2&offset=1`))).toEqual(['turn 2', 'turn 3'])
      expect(contents(await api('GET', `${turns}?roles=assistant`))).toEqual(['turn 2', 'turn 4'])
      expect(contents(await api('GET', `${turns}?roles=user,assistant&since=4000`))).toEqual([
        'turn 4',
        'turn 5',
      ])
      expect(contents(await api('GET', `${turns}?since=1970-01-01T00:00:03Z&roles=user`))).toEqual([
        'turn 3',
        'turn 5',
      ])
    })

    it('lists conversations most recent first, by agent and by page', async () => {
      const user = newUser('lister')
      await api('POST', `/users/${user}/conversations/old/turns`, {
        role: 'user',
        content: 'a',
        timestamp: 1_000,
      })
      await api('POST', `/users/${user}/conversations/new/turns`, {
        role: 'user',
        content: 'b',
        timestamp: 3_000,
        agentId: 'planner',
      })
      await api('POST', `/users/${user}/conversations/mid/turns`, {
        role: 'user',
        content: 'c',
        timestamp: 2_000,
      })
      const list = await api('GET', `/users/${user}/conversations`)
      expect(list.status).toBe(200)
      expect(list.body.map((c: { conversationId: string }) => c.conversationId)).toEqual([
        'new',
        'mid',
        'old',
      ])
      expect(list.body[0]).toMatchObject({ userId: user, agentId: 'planner', lastActivity: 3_000 })
      const byAgent = await api('GET', `/users/${user}/conversations?agentId=planner`)
      expect(byAgent.body.map((c: { conversationId: string }) => c.conversationId)).toEqual(['new'])
      const page = await api('GET', `/users/${user}/conversations?limit=1&offset=1`)
      expect(page.body.map((c: { conversationId: string }) => c.conversationId)).toEqual(['mid'])
    })

    it('sets, reads and clears a persona', async () => {
      const user = newUser('persona')
      const path = `/users/${user}/conversations/c1`
      const set = await api('PUT', `${path}/persona`, { persona: 'A patient maths tutor' })
      expect(set.status).toBe(200)
      expect(set.body).toMatchObject({ conversationId: 'c1', persona: 'A patient maths tutor' })
      expect((await api('GET', path)).body.persona).toBe('A patient maths tutor')
      await api('PUT', `${path}/persona`, { persona: null })
      expect((await api('GET', path)).body.persona).toBeNull()
      expect((await api('PUT', `${path}/persona`, {})).status).toBe(400)
      expect((await api('PUT', `${path}/persona`, { persona: 7 })).status).toBe(400)
    })

    it('prunes history, keeping the newest turns, and says how many went', async () => {
      const user = newUser('pruner')
      const path = `/users/${user}/conversations/c1`
      for (let i = 1; i <= 6; i++)
        await api('POST', `${path}/turns`, { role: 'user', content: `t${i}`, timestamp: i })
      const kept = await api('POST', `${path}/prune`, { keepLast: 4 })
      expect(kept).toMatchObject({ status: 200, body: { removed: 2 } })
      const old = await api('POST', `${path}/prune`, { olderThan: 5 })
      expect(old.body).toEqual({ removed: 2 })
      const left = await api('GET', `${path}/turns`)
      expect(left.body.map((t: { content: string }) => t.content)).toEqual(['t5', 't6'])
      expect((await api('POST', `${path}/prune`, {})).status).toBe(400)
      expect((await api('POST', `/users/${user}/conversations/none/prune`, { keepLast: 1 })).status).toBe(404)
    })

    it('deletes a conversation together with the memories remembered from it', async () => {
      const user = newUser('cascade')
      const path = `/users/${user}/conversations/trip`
      const stored = await api('POST', `${path}/turns`, {
        role: 'user',
        content: 'My passport number ends in 4471 and expires in March',
        remember: true,
      })
      expect(stored.status).toBe(201)
      expect(typeof stored.body.memoryId).toBe('string')
      const kept = await api('POST', `/users/${user}/memories`, { text: 'My passport is in the top drawer' })

      const before = await api('GET', `/users/${user}/recall?q=passport%20number&topK=5`)
      expect(before.body.map((h: { trace: { id: string } }) => h.trace.id)).toContain(stored.body.memoryId)
      expect((await api('GET', `/users/${user}/memories/${stored.body.memoryId}`)).body).toMatchObject({
        conversationId: 'trip',
        userId: user,
        scope: `user:${user}`,
        metadata: { turnId: stored.body.storageId },
      })

      const deleted = await api('DELETE', path)
      expect(deleted.status).toBe(204)
      const after = await api('GET', `/users/${user}/recall?q=passport%20number&topK=5`)
      const ids = after.body.map((h: { trace: { id: string } }) => h.trace.id)
      expect(ids).not.toContain(stored.body.memoryId)
      expect(ids).toContain(kept.body.id)
      expect((await api('GET', `/users/${user}/memories/${stored.body.memoryId}`)).status).toBe(404)
      expect((await api('GET', `${path}/turns`)).status).toBe(404)
      expect((await api('DELETE', path)).status).toBe(404)
    })

    it("keeps users apart: B can neither read nor delete A's conversations and memories", async () => {
      const a = newUser('alice')
      const b = newUser('bob')
      await api('POST', `/users/${a}/conversations/shared-id/turns`, {
        role: 'user',
        content: 'secret plans',
      })
      const memory = await api('POST', `/users/${a}/memories`, {
        text: 'Alice keeps the spare key under the mat',
      })
      expect(memory.status).toBe(201)

      expect((await api('GET', `/users/${b}/conversations/shared-id/turns`)).status).toBe(404)
      expect((await api('GET', `/users/${b}/conversations/shared-id`)).status).toBe(404)
      expect((await api('GET', `/users/${b}/conversations`)).body).toEqual([])
      expect((await api('DELETE', `/users/${b}/conversations/shared-id`)).status).toBe(404)
      expect((await api('GET', `/users/${b}/memories/${memory.body.id}`)).status).toBe(404)
      expect((await api('DELETE', `/users/${b}/memories/${memory.body.id}`)).status).toBe(404)
      expect((await api('GET', `/users/${b}/recall?q=spare%20key`)).body).toEqual([])

      expect((await api('GET', `/users/${a}/conversations/shared-id/turns`)).body).toHaveLength(1)
      const recalled = await api('GET', `/users/${a}/recall?q=spare%20key`)
      expect(recalled.body[0].trace.id).toBe(memory.body.id)
      expect((await api('DELETE', `/users/${a}/memories/${memory.body.id}`)).status).toBe(204)
      expect((await api('GET', `/users/${a}/recall?q=spare%20key`)).body).toEqual([])
    })

    it('recalls the best-matching memory first, best to worst, within topK, in every mode', async () => {
      const user = newUser('recall')
      const facts = [
        'Ada drinks green tea every morning',
        'The deploy pipeline runs on Friday afternoons',
        'Ada is allergic to peanuts',
        'The office plants need water on Mondays',
      ]
      for (const text of facts) {
        const reply = await api('POST', `/users/${user}/memories`, { text, tags: ['profile'], type: 'fact' })
        expect(reply.status).toBe(201)
        expect(reply.body).toMatchObject({ text, tags: ['profile'], type: 'fact', scope: `user:${user}` })
      }
      for (const mode of ['hybrid', 'vector', 'text']) {
        const reply = await api(
          'GET',
          `/users/${user}/recall?q=${encodeURIComponent('green tea')}&topK=3&mode=${mode}`,
        )
        expect(reply.status, mode).toBe(200)
        expect(reply.body[0].trace.text, mode).toBe(facts[0])
        expect(reply.body.length, mode).toBeLessThanOrEqual(3)
        const scores = reply.body.map((h: { score: number }) => h.score)
        expect(scores, mode).toEqual([...scores].sort((x, y) => y - x))
      }
      const peanuts = await api('GET', `/users/${user}/recall?q=peanut%20allergy&topK=1`)
      expect(peanuts.body.map((h: { trace: { text: string } }) => h.trace.text)).toEqual([facts[2]])
    })

    it('maps bad input and storage errors to HTTP statuses with a JSON error body', async () => {
      const user = newUser('errors')
      const turns = `/users/${user}/conversations/c1/turns`
      const badJson = await api('POST', turns, '{"role": "user", ')
      expect(badJson.status).toBe(400)
      expect(badJson.body.error.code).toBe('INVALID_JSON')

      const badRole = await api('POST', turns, { role: 'wizard', content: 'hi' })
      expect(badRole.status).toBe(400)
      expect(badRole.body).toEqual({
        error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('wizard') },
      })

      const unknownField = await api('POST', turns, { role: 'user', contnet: 'typo' })
      expect(unknownField.status).toBe(400)
      expect(unknownField.body.error.message).toContain('contnet')

      const duplicate = await api('POST', turns, { role: 'user', content: 'x', storageId: 'fixed' })
      expect(duplicate.status).toBe(201)
      const again = await api('POST', turns, { role: 'user', content: 'x', storageId: 'fixed' })
      expect(again.status).toBe(409)
      expect(again.body.error.code).toBe('UNIQUE_VIOLATION')

      expect((await api('GET', `${turns}?limit=ten`)).status).toBe(400)
      expect((await api('GET', `${turns}?order=sideways`)).status).toBe(400)
      expect((await api('GET', `${turns}?roles=user,wizard`)).status).toBe(400)
      expect((await api('GET', `/users/${user}/recall`)).status).toBe(400)
      expect((await api('GET', `/users/${user}/recall?q=x&mode=psychic`)).status).toBe(400)
      expect((await api('POST', `/users/${user}/memories`, { text: '' })).status).toBe(400)
      expect((await api('POST', `/users/${user}/memories`, [])).status).toBe(400)

      const unknownRoute = await api('GET', '/nowhere')
      expect(unknownRoute.status).toBe(404)
      expect(unknownRoute.body.error.code).toBe('NOT_FOUND')

      const wrongMethod = await api('PATCH', turns, { role: 'user' })
      expect(wrongMethod.status).toBe(405)
      expect(wrongMethod.body.error.code).toBe('METHOD_NOT_ALLOWED')
      expect(wrongMethod.headers.get('allow')).toBe('POST, GET')

      for (const reply of [badJson, badRole, again, unknownRoute, wrongMethod]) {
        expect(Object.keys(reply.body.error).sort()).toEqual(['code', 'message'])
        expect(reply.body.error.message).not.toMatch(/\n\s+at /)
      }
      expect(running?.serverErrors).toEqual([])
    })

    it('refuses a turn that asks to be remembered without content, and leaves no memory behind a failed turn', async () => {
      const user = newUser('remember')
      const turns = `/users/${user}/conversations/c1/turns`
      expect((await api('POST', turns, { role: 'assistant', content: null, remember: true })).status).toBe(
        400,
      )
      expect((await api('POST', turns, { role: 'user', content: 'hi', remember: 'yes' })).status).toBe(400)
      const failed = await api('POST', turns, {
        role: 'wizard',
        content: 'Remember the dragon',
        remember: true,
      })
      expect(failed.status).toBe(400)
      expect((await api('GET', `/users/${user}/recall?q=dragon`)).body).toEqual([])
      expect((await api('GET', turns)).status).toBe(404)
    })

    it('refuses a body over 1 MiB with 413', async () => {
      const user = newUser('big')
      const reply = await api('POST', `/users/${user}/memories`, { text: 'x'.repeat(1024 * 1024 + 10) })
      expect(reply.status).toBe(413)
      expect(reply.body.error.code).toBe('PAYLOAD_TOO_LARGE')
    })

    it('refuses an over-size body sent chunked, without a Content-Length to go by', async () => {
      const user = newUser('chunked')
      const piece = new TextEncoder().encode(`{"text":"${'y'.repeat(256 * 1024)}`)
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 8) controller.enqueue(piece)
          else controller.close()
        },
      })
      const response = await fetch(`${running?.base}/users/${user}/memories`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(user)}` },
        body,
        duplex: 'half',
      } as RequestInit)
      expect(response.status).toBe(413)
      expect(((await response.json()) as Reply['body']).error.code).toBe('PAYLOAD_TOO_LARGE')
    })
  })
}

describe('agent backend when things go wrong underneath', () => {
  const backend = sqliteBackend()
  afterAll(() => backend.cleanup())

  it('answers 503 once the memory is closed, and health says so', async () => {
    const memory = await backend.open()
    const running = await start(memory)
    try {
      await memory.close()
      const recall = await call(running.base, 'GET', '/users/u/recall?q=anything')
      expect(recall.status).toBe(503)
      expect(recall.body.error.code).toBe('CLOSED')
      const health = await call(running.base, 'GET', '/health')
      expect(health.status).toBe(503)
      expect(health.body).toMatchObject({ ok: false, error: { code: 'CLOSED' } })
    } finally {
      await stop(running)
    }
  })

  it('hides the details of unexpected errors behind a 500 and hands them to onServerError', async () => {
    const memory = await backend.open()
    // A memory whose recall fails the way a bug would: a plain Error with internals in its message.
    const broken = Object.create(memory) as Memory
    broken.recall = async () => {
      throw new Error('SELECT secret FROM internals at /srv/app.js:12')
    }
    const running = await start(broken)
    try {
      const reply = await call(running.base, 'GET', '/users/u/recall?q=anything')
      expect(reply.status).toBe(500)
      expect(reply.body).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } })
      expect(JSON.stringify(reply.body)).not.toContain('secret')
      expect(running.serverErrors).toHaveLength(1)
    } finally {
      await stop(running)
    }
  })
})
