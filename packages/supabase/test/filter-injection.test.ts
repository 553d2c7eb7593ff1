import { randomUUID } from 'node:crypto'
import { seededRandom } from '@engram/conformance'
import { type Filter, matchesFilter, type VectorRecord, type VectorStore, validateFilter } from '@engram/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSupabaseVectorStore, type SupabaseRpcClient } from '../src/index.js'
import { admin, freshName, openTarget, type SupabaseTarget } from './supabase-test-env.js'

// Strings that break naive SQL, LIKE, JSON paths, dollar quoting and format() specifiers.
const HOSTILE = [
  "'; DROP TABLE CANARY; --",
  "a') OR ('1'='1",
  '" OR 1=1 --',
  '$$; DELETE FROM x; $$',
  '%I %L %s %1$s',
  '\\',
  "\\'",
  '%_',
  '); SELECT pg_sleep(10); --',
  '{"kind":"and","children":[]}',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ünïcödé',
  '',
]

const FIELD_NAMES = ['tag', 'n', 'tags', 'flag', 'missing', 'note']

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T
}

function records(owner: string, count: number, next: () => number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${owner}-${i}`,
    vector: [next() - 0.5, next() - 0.5, next() - 0.5],
    metadata: {
      owner,
      tag: pick(next, HOSTILE),
      n: Math.floor(next() * 10) - 3,
      tags: [pick(next, HOSTILE), pick(next, ['x', 'y'])],
      flag: next() < 0.5,
      ...(next() < 0.5 ? { note: pick(next, HOSTILE) } : {}),
    },
  }))
}

function scalar(next: () => number): string | number | boolean {
  const kind = next()
  if (kind < 0.6) return pick(next, HOSTILE)
  if (kind < 0.85) return Math.floor(next() * 10) - 3
  return next() < 0.5
}

/** A random filter in the portable language, with hostile strings as values. */
function validFilter(next: () => number, depth = 0): Filter {
  const roll = next()
  const field = pick(next, FIELD_NAMES)
  if (depth < 3 && roll < 0.25) {
    const children = Array.from({ length: 1 + Math.floor(next() * 3) }, () => validFilter(next, depth + 1))
    return { [next() < 0.5 ? '$and' : '$or']: children }
  }
  if (roll < 0.45) return { [field]: scalar(next) }
  if (roll < 0.6) return { [field]: { [pick(next, ['$in', '$nin'])]: [scalar(next), scalar(next)] } }
  if (roll < 0.7) return { [field]: { $exists: next() < 0.5 } }
  if (roll < 0.85) return { [field]: { [pick(next, ['$eq', '$ne'])]: scalar(next) } }
  const bound = next() < 0.5 ? Math.floor(next() * 10) - 3 : pick(next, HOSTILE)
  return { [field]: { [pick(next, ['$gt', '$gte', '$lt', '$lte'])]: bound } }
}

/** A random JSON tree sent straight to the functions, past the client's validation. */
function hostileTree(next: () => number, canary: string, depth = 0): unknown {
  const attacks = [
    `x'); DROP TABLE ${canary}; --`,
    `x" OR true OR "`,
    'metadata',
    '',
    'a'.repeat(65),
    '1abc',
    'tag) OR (TRUE',
    `tag' ? 'x') OR EXISTS (SELECT 1 FROM ${canary}) OR ('`,
  ]
  const roll = next()
  if (depth < 4 && roll < 0.2) {
    return {
      kind: pick(next, ['and', 'or', 'AND', 'or; DROP', 'and']),
      children:
        next() < 0.8 ? [hostileTree(next, canary, depth + 1), hostileTree(next, canary, depth + 1)] : 'all',
    }
  }
  const node: Record<string, unknown> = {
    kind: pick(next, ['compare', 'in', 'exists', 'compare', `compare'; DROP TABLE ${canary}; --`, 7, null]),
    field: next() < 0.5 ? pick(next, attacks) : pick(next, FIELD_NAMES),
    op: pick(next, [
      '$eq',
      '$ne',
      '$gt',
      '$lt',
      '$in',
      '$nin',
      '$regex',
      '= 1 OR 1=1 --',
      `; DROP TABLE ${canary}`,
    ]),
  }
  const value = pick(next, [
    scalar(next),
    { nested: scalar(next) },
    [scalar(next)],
    null,
    `'); DROP TABLE ${canary}; --`,
  ])
  node.value = value
  node.values = next() < 0.7 ? [scalar(next), value] : value
  node.exists = next() < 0.7 ? next() < 0.5 : 'yes'
  return node
}

let target: SupabaseTarget
let service: VectorStore
let alice: VectorStore
let aliceClient: SupabaseRpcClient
let name: string
let canary: string
let data: { alice: VectorRecord[]; bob: VectorRecord[] }

beforeAll(async () => {
  target = await openTarget()
  service = createSupabaseVectorStore({ client: target.serviceClient(), schema: target.schema })
  name = `fuzz_${randomUUID().slice(0, 8)}`
  await service.createCollection(name, { dimension: 3 })
  const next = seededRandom(7)
  data = { alice: records('alice', 60, next), bob: records('bob', 40, next) }
  if (target.users) {
    const [a, b] = target.users
    aliceClient = target.userClient(a)
    alice = createSupabaseVectorStore({ client: aliceClient, schema: target.schema })
    const bob = createSupabaseVectorStore({ client: target.userClient(b), schema: target.schema })
    await alice.upsert(name, data.alice)
    await bob.upsert(name, data.bob)
    await bob.close()
  }
  canary = freshName('engram_canary')
  if (target.server)
    await admin(`CREATE TABLE public.${canary} (x int); INSERT INTO public.${canary} VALUES (1)`)
})

afterAll(async () => {
  await service?.dropCollection(name)
  for (const store of [alice, service]) await store?.close()
  if (target?.server) await admin(`DROP TABLE IF EXISTS public.${canary}`)
  await target?.close()
})

describe('filters travel as data: injection fuzzing', () => {
  it('200 random filters with hostile values select exactly what matchesFilter accepts, in query, count and scan', async () => {
    const all = [...data.alice, ...data.bob]
    const next = seededRandom(11)
    let nonEmpty = 0
    for (let i = 0; i < 200; i++) {
      const filter = validFilter(next)
      const node = validateFilter(filter)
      const expected = all
        .filter((r) => matchesFilter(node, r.metadata))
        .map((r) => r.id)
        .sort()
      if (expected.length > 0) nonEmpty++
      const label = `seed 11, case ${i}: ${JSON.stringify(filter)}`
      const matches = await service.query(name, { vector: [1, 0, 0], topK: 1000, filter })
      expect(matches.map((m) => m.id).sort(), label).toEqual(expected)
      expect(await service.count(name, filter), label).toBe(expected.length)
      if (i % 10 === 0) {
        const scanned: string[] = []
        for await (const batch of service.scan(name, { filter, batchSize: 7 }))
          scanned.push(...batch.map((r) => r.id))
        expect(scanned.sort(), label).toEqual(expected)
      }
    }
    // The generator must produce filters that select something, or the comparison proves little.
    expect(nonEmpty).toBeGreaterThan(60)
  })

  it("200 hostile trees sent past the client never execute SQL or reveal another user's records", async (ctx) => {
    ctx.skip(target.users === undefined, 'needs a signed-in user (SUPABASE_USER_JWT and friends)')
    const mine = new Set(data.alice.map((r) => r.id))
    const next = seededRandom(13)
    const rpc = (fn: string, args: Record<string, unknown>) => aliceClient.schema(target.schema).rpc(fn, args)
    let refused = 0
    for (let i = 0; i < 200; i++) {
      const filter = hostileTree(next, canary)
      const label = `seed 13, case ${i}: ${JSON.stringify(filter)}`
      const counted = await rpc('engram_count', { collection: name, filter })
      const queried = await rpc('engram_query', {
        collection: name,
        query_vector: [1, 0, 0],
        top_k: 1000,
        filter,
      })
      const deleted = await rpc('engram_delete', {
        collection: name,
        filter: {
          kind: 'and',
          children: [filter, { kind: 'exists', field: 'nothing_has_this', exists: true }],
        },
      })
      for (const reply of [counted, queried, deleted]) {
        if (reply.error) {
          refused++
          // A refusal is a clean client error, never a server fault or a timeout.
          expect(reply.status, `${label}: ${JSON.stringify(reply.error)}`).toBe(400)
        }
      }
      if (!queried.error) {
        for (const match of queried.data as Array<{ id: string }>)
          expect(mine.has(match.id), label).toBe(true)
        expect(counted.error, label).toBeNull()
        expect(counted.data as number, label).toBeLessThanOrEqual(mine.size)
      }
      if (!deleted.error) expect(deleted.data, label).toBe(0)
    }
    expect(refused).toBeGreaterThan(200)
    expect(await alice.count(name)).toBe(data.alice.length)
    expect(await service.count(name)).toBe(data.alice.length + data.bob.length)
  })

  it('the canary table the hostile trees tried to drop is still there', async (ctx) => {
    ctx.skip(target.server === undefined, 'only on the local test server')
    await admin(`SELECT x FROM public.${canary}`)
  })
})
