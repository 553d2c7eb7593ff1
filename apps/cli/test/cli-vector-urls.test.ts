import { Memory } from '@engram/memory'
import { createQdrantVectorStore } from '@engram/qdrant'
import { startQdrantTestServer } from '@engram/test-servers/qdrant'
import { afterAll, describe, expect, it } from 'vitest'
import { engram, jsonOf, scratch } from './cli-env.js'

const env = scratch('engram_cli_vectors')
afterAll(() => env.cleanup())

describe('vector-store URLs', () => {
  it('migrates a memory file’s vectors to qdrant://host:port with --verify, ids and texts intact', async () => {
    const source = env.file('memory.db')
    const memory = await Memory.open({ path: source })
    await memory.remember('Ada bakes sourdough on Sundays', { scope: 'user:ada' })
    await memory.remember('Bob drinks green tea', { scope: 'user:bob' })
    await memory.close()
    const server = await startQdrantTestServer()
    try {
      const target = `qdrant://127.0.0.1:${new URL(server.url).port}`
      const run = await engram(['migrate', source, target, '--verify', '--json'])
      expect(run.code, run.stderr).toBe(0)
      expect(jsonOf(run)).toMatchObject({ vectors: 2, verified: true, mismatches: [] })
      const store = createQdrantVectorStore({ url: server.url })
      const records = []
      for await (const batch of store.scan('memories')) records.push(...batch)
      expect(records.map((record) => record.text).sort()).toEqual([
        'Ada bakes sourdough on Sundays',
        'Bob drinks green tea',
      ])
      await store.close()
    } finally {
      await server.close()
    }
  })

  it('says what is missing when a pinecone:// URL has no API key, and exits 1', async () => {
    const run = await engram(['migrate', env.file('missing.db'), 'pinecone://docs', '--json'], {
      env: { PINECONE_API_KEY: '' },
    })
    expect(run.code).toBe(1)
    expect(jsonOf(run)).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('PINECONE_API_KEY') },
    })
  })
})
