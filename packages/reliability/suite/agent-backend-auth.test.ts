import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isWellFormed } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AgentBackend,
  agentBackendBuilt,
  startAgentBackend,
  startRefused,
} from '../src/agent-backend-process.js'
import { printFigures } from '../src/figures.js'
import { HOSTILE_STRINGS } from '../src/hostile-values.js'

// apps/agent-backend as its own process, from outside: it refuses to start without
// authentication, binds loopback by default, answers only the user a credential belongs to, and
// survives hostile user and conversation ids in its URLs with 4xx answers (never a 5xx or a crash).
const FILE = 'agent-backend-auth'
const built = agentBackendBuilt()
const folder = mkdtempSync(join(tmpdir(), 'engram-agent-backend-'))
const ADA = 'a'.repeat(40)
const BOB = 'b'.repeat(40)
let backend: AgentBackend

beforeAll(async () => {
  if (!built) return
  backend = await startAgentBackend({
    ENGRAM_DATA_DIR: folder,
    ENGRAM_AUTH_TOKENS: JSON.stringify({ ada: ADA, bob: BOB }),
  })
}, 60_000)

afterAll(async () => {
  await backend?.stop()
  rmSync(folder, { recursive: true, force: true })
})

async function call(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  return fetch(`${backend.url}${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
  })
}

describe.skipIf(!built)(
  'the agent backend, as a process (skipped when apps/agent-backend is not built)',
  () => {
    it('refuses to start with no authentication configured, and insecure mode only on loopback', async () => {
      const none = await startRefused({ ENGRAM_DATA_DIR: folder })
      expect(none.code).not.toBe(0)
      expect(none.stderr).toMatch(/ENGRAM_AUTH_TOKENS|ENGRAM_AUTH_JWT_SECRET/)
      const exposed = await startRefused({
        ENGRAM_DATA_DIR: folder,
        ENGRAM_INSECURE_NO_AUTH: '1',
        HOST: '0.0.0.0',
      })
      expect(exposed.code).not.toBe(0)
      expect(exposed.stderr).toMatch(/loopback/)
    })

    it('binds 127.0.0.1 by default', () => {
      expect(backend.address).toBe('127.0.0.1')
    })

    it('answers only the user a credential belongs to', async () => {
      const turn = JSON.stringify({ role: 'user', content: 'only for ada' })
      expect(
        (await call('/users/ada/conversations/c/turns', undefined, { method: 'POST', body: turn })).status,
      ).toBe(401)
      expect(
        (await call('/users/ada/conversations/c/turns', 'x'.repeat(40), { method: 'POST', body: turn }))
          .status,
      ).toBe(401)
      expect(
        (await call('/users/ada/conversations/c/turns', BOB, { method: 'POST', body: turn })).status,
      ).toBe(403)
      expect(
        (await call('/users/ada/conversations/c/turns', ADA, { method: 'POST', body: turn })).status,
      ).toBe(201)
      const own = await call('/users/ada/conversations/c/turns', ADA)
      expect(((await own.json()) as Array<{ content: string }>).map((t) => t.content)).toEqual([
        'only for ada',
      ])
      expect((await call('/users/ada/conversations/c/turns', BOB)).status).toBe(403)
      expect((await call('/users/bob/conversations/c/turns', BOB)).status).toBe(404)
      expect((await call('/users/ada/conversations/c', BOB, { method: 'DELETE' })).status).toBe(403)
      expect((await call('/users/ada/conversations/c/turns', ADA)).status).toBe(200)
    })

    it('answers hostile ids in the URL with a 4xx, never a 5xx, and keeps serving', async () => {
      const statuses = new Map<number, number>()
      // A lone surrogate has no URL encoding: the bytes one would take in UTF-8 (ED A0 80) stand for them all.
      const raw: ReadonlyArray<readonly [string, string]> = [
        ['encoded lone surrogate', '%ED%A0%80'],
        ['encoded NUL', 'a%00b'],
        ['invalid percent escape', '%zz'],
      ]
      const cases = [
        ...HOSTILE_STRINGS.filter(([, value]) => isWellFormed(value)).map(
          ([label, value]) => [label, encodeURIComponent(value)] as const,
        ),
        ...raw,
      ]
      for (const [label, encoded] of cases) {
        for (const path of [
          `/users/${encoded}/conversations`,
          `/users/ada/conversations/${encoded}/turns`,
          `/users/ada/memories/${encoded}`,
        ]) {
          const response = await call(path, ADA).catch((error: unknown) => error as Error)
          if (response instanceof Error) throw new Error(`${label} at ${path}: ${response.message}`)
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
          expect(response.status, `${label} at ${path}`).toBeLessThan(500)
          await response.body?.cancel()
        }
      }
      expect((await fetch(`${backend.url}/health`)).status).toBe(200)
      printFigures(
        FILE,
        'hostile ids in URLs',
        Object.fromEntries([...statuses].map(([s, n]) => [`status${s}`, n])),
      )
    })
  },
)
