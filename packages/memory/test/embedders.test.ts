import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StorageError, similarity } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalEmbedder } from '../src/local-embedder.js'
import { createOpenAIEmbedder } from '../src/openai-embedder.js'

describe('createLocalEmbedder', () => {
  const embed = createLocalEmbedder({ dimensions: 256 })

  it('returns one unit-length vector of the configured size per text', async () => {
    const vectors = await embed(['the quick brown fox', 'jumps over the lazy dog'])
    expect(vectors).toHaveLength(2)
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array)
      expect(v.length).toBe(256)
      expect(Math.hypot(...v)).toBeCloseTo(1, 5)
    }
  })

  it('is deterministic across calls and instances', async () => {
    const [a] = await embed(['Canberra is the capital of Australia'])
    const [b] = await createLocalEmbedder({ dimensions: 256 })(['Canberra is the capital of Australia'])
    expect(Array.from(b as Float32Array)).toEqual(Array.from(a as Float32Array))
  })

  it('scores texts that share words above texts that do not', async () => {
    const [query, related, unrelated] = await embed([
      'capital city of Australia',
      'Canberra is the capital of Australia',
      'photosynthesis converts light into chemical energy',
    ])
    const q = query as Float32Array
    expect(similarity('cosine', q, related as Float32Array)).toBeGreaterThan(
      similarity('cosine', q, unrelated as Float32Array) + 0.2,
    )
  })

  it('gives the empty string a zero vector rather than NaN', async () => {
    const [empty] = await embed([''])
    expect(Array.from(empty as Float32Array).every((x) => x === 0)).toBe(true)
  })

  it('rejects a dimension that is not a sensible integer', () => {
    expect(() => createLocalEmbedder({ dimensions: 3 })).toThrow(StorageError)
  })
})

describe('createOpenAIEmbedder against an OpenAI-compatible server', () => {
  let server: Server
  let baseURL: string
  const seen: Array<{ auth?: string; body: { model: string; input: string[]; dimensions?: number } }> = []
  let failNext = 0

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = ''
      req.on('data', (chunk) => {
        data += chunk
      })
      req.on('end', () => resolve(data))
    })

  beforeAll(async () => {
    // Speaks the /v1/embeddings protocol: data[] with index and embedding, out of order on purpose.
    server = createServer(async (req, res) => {
      const body = JSON.parse(await readBody(req))
      seen.push({ auth: req.headers.authorization, body })
      if (req.url !== '/v1/embeddings' || req.method !== 'POST') {
        res.writeHead(404).end()
        return
      }
      if (failNext > 0) {
        failNext--
        res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":{"message":"slow down"}}')
        return
      }
      if (body.model === 'missing-model') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"error":{"message":"model not found"}}')
        return
      }
      const dims = body.dimensions ?? 4
      const data = body.input.map((text: string, index: number) => ({
        object: 'embedding',
        index,
        embedding: Array.from({ length: dims }, (_, i) => text.length + i),
      }))
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: data.reverse(), model: body.model }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('posts batches to /embeddings and returns vectors in input order', async () => {
    seen.length = 0
    const embed = createOpenAIEmbedder({ baseURL, apiKey: 'sk-test', model: 'm', batchSize: 2 })
    const vectors = await embed(['a', 'bbb', 'cc'])
    expect(vectors.map((v) => v[0])).toEqual([1, 3, 2])
    expect(seen.map((s) => s.body.input)).toEqual([['a', 'bbb'], ['cc']])
    expect(seen[0]?.auth).toBe('Bearer sk-test')
    expect(seen[0]?.body.model).toBe('m')
  })

  it('passes the requested dimensions through', async () => {
    const [v] = await createOpenAIEmbedder({ baseURL, apiKey: 'k', dimensions: 8 })(['x'])
    expect(v?.length).toBe(8)
  })

  it('retries a 429 answer and then succeeds', async () => {
    failNext = 1
    const vectors = await createOpenAIEmbedder({ baseURL, apiKey: 'k', retries: 2 })(['retry me'])
    expect(vectors).toHaveLength(1)
  })

  it('reports an API error with its status and message', async () => {
    const embed = createOpenAIEmbedder({ baseURL, apiKey: 'k', model: 'missing-model' })
    await expect(embed(['x'])).rejects.toThrow(/404.*model not found/)
  })

  it('reports an unreachable server as CONNECTION_FAILED', async () => {
    const embed = createOpenAIEmbedder({
      baseURL: 'http://127.0.0.1:9/v1',
      apiKey: 'k',
      retries: 0,
      timeoutMs: 2000,
    })
    await expect(embed(['x'])).rejects.toMatchObject({ code: 'CONNECTION_FAILED' })
  })
})
