import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QDRANT_ID_NAMESPACE, qdrantPointId, uuidV5 } from '../src/index.js'
import { type QdrantTarget, startTarget } from './qdrant-target.js'

describe('UUIDv5 point ids', () => {
  it("matches RFC 9562's example: www.example.com in the DNS namespace", () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    )
  })

  it('derives the documented namespace from the documented URL', () => {
    expect(
      uuidV5(
        'https://github.com/engram/engram/packages/qdrant#point-id',
        '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
      ),
    ).toBe(QDRANT_ID_NAMESPACE)
  })

  it('maps an engram id to the same UUID every time, and a tenant to a different one', () => {
    expect(qdrantPointId('user:42/note#7')).toBe('b9c88b25-3576-51e4-b696-f1a172ec6db5')
    expect(qdrantPointId('user:42/note#7', 'acme')).toBe('776d3c8f-ce23-5372-a232-00a82e693f0f')
    expect(qdrantPointId('héllo 🚀')).toBe('88b6e33c-279d-598e-99b0-4f4f34b851b8')
  })

  it('keeps ids apart that differ only in case, Unicode form or a trailing character', () => {
    const ids = ['Case', 'case', 'é', 'e\u0301', 'a', 'a ', 'T\uFFFD']
    expect(new Set(ids.map((id) => qdrantPointId(id))).size).toBe(ids.length)
  })

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(TypeError)
  })
})

describe('ids through the store', () => {
  let target: QdrantTarget

  beforeAll(async () => {
    target = await startTarget()
  })

  afterAll(async () => {
    await target.stop()
  })

  it(`'user:42/note#7' round-trips through upsert, get, query, scan and delete, stored as its UUIDv5`, async () => {
    const prefix = target.prefix()
    const store = target.open({ collectionPrefix: prefix })
    const id = 'user:42/note#7'
    try {
      await store.createCollection('ids', { dimension: 2 })
      await store.upsert('ids', [{ id, vector: [1, 0], metadata: { kind: 'note' } }])
      expect((await store.get('ids', [id])).map((r) => r.id)).toEqual([id])
      expect((await store.query('ids', { vector: [1, 0] })).map((m) => m.id)).toEqual([id])
      const scanned: string[] = []
      for await (const batch of store.scan('ids')) scanned.push(...batch.map((r) => r.id))
      expect(scanned).toEqual([id])

      // What Qdrant holds: the UUIDv5 as the point id, the caller's id in the payload.
      const client = new QdrantClient({
        url: target.url,
        checkCompatibility: false,
        ...(target.apiKey ? { apiKey: target.apiKey } : {}),
      })
      const [point] = await client.retrieve(`${prefix}ids`, { ids: [qdrantPointId(id)], with_payload: true })
      expect(point?.id).toBe(qdrantPointId(id))
      expect(point?.payload).toMatchObject({ id, tenant: '', metadata: { kind: 'note' } })

      expect(await store.delete('ids', { ids: [id] })).toBe(1)
      expect(await store.get('ids', [id])).toEqual([])
    } finally {
      await store.dropCollection('ids')
      await store.close()
    }
  })
})
