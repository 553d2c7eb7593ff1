import { expectStorageError } from '@engram/conformance'
import type { StorageAdapter } from '@engram/core'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AgentState } from '../src/agent-state.js'
import { KnowledgeGraph } from '../src/knowledge-graph.js'
import { allBackends } from './storage-backends.js'

for (const backend of allBackends()) {
  describe(`KnowledgeGraph and AgentState on ${backend.name}`, () => {
    let db: StorageAdapter
    let graph: KnowledgeGraph

    beforeEach(async () => {
      db = (await backend.create()).open()
      graph = new KnowledgeGraph(db)
      await graph.initialize()
    })
    afterEach(() => backend.closeAll())
    afterAll(() => backend.cleanup())

    /** a → b → c → d, a → e, and a cycle d → a. */
    async function chain(): Promise<void> {
      for (const id of ['a', 'b', 'c', 'd', 'e'])
        await graph.addEntity({ id, name: id.toUpperCase(), type: 'node' })
      await graph.addRelation('a', 'b', 'next')
      await graph.addRelation('b', 'c', 'next')
      await graph.addRelation('c', 'd', 'next')
      await graph.addRelation('a', 'e', 'side', { weight: 0.5 })
      await graph.addRelation('d', 'a', 'back')
    }

    it('stores entities and updates one added again with the same id', async () => {
      await graph.addEntity({
        id: 'canberra',
        name: 'Canberra',
        type: 'city',
        properties: { population: 467_000 },
      })
      await graph.addEntity({ id: 'canberra', name: 'Canberra, ACT', type: 'city' })
      expect(await graph.getEntity('canberra')).toEqual({
        id: 'canberra',
        name: 'Canberra, ACT',
        type: 'city',
        properties: {},
      })
      expect(await graph.findEntities('Canberra, ACT', 'city')).toHaveLength(1)
    })

    it('returns direct neighbours at depth 1 with the edge type', async () => {
      await chain()
      const found = await graph.neighbors('a')
      expect(found.map((n) => [n.entity.id, n.depth, n.via])).toEqual([
        ['b', 1, 'next'],
        ['e', 1, 'side'],
      ])
    })

    it('walks several levels, each entity once at its nearest depth, with its path', async () => {
      await chain()
      const found = await graph.neighbors('a', { depth: 3 })
      expect(found.map((n) => [n.entity.id, n.depth])).toEqual([
        ['b', 1],
        ['e', 1],
        ['c', 2],
        ['d', 3],
      ])
      expect(found.find((n) => n.entity.id === 'd')?.path).toEqual(['b', 'c', 'd'])
    })

    it('terminates on a cycle and never returns the start entity', async () => {
      await chain()
      const found = await graph.neighbors('a', { depth: 6 })
      expect(found.map((n) => n.entity.id).sort()).toEqual(['b', 'c', 'd', 'e'])
    })

    it('follows edges backwards and both ways', async () => {
      await chain()
      expect((await graph.neighbors('b', { direction: 'in' })).map((n) => n.entity.id)).toEqual(['a'])
      expect((await graph.neighbors('b', { direction: 'both' })).map((n) => n.entity.id)).toEqual(['a', 'c'])
    })

    it('bounds fan-out per entity, strongest edges first', async () => {
      await graph.addEntity({ id: 'hub', name: 'hub' })
      for (let i = 0; i < 30; i++) {
        await graph.addEntity({ id: `leaf${i}`, name: `leaf ${i}` })
        await graph.addRelation('hub', `leaf${i}`, 'has', { weight: i })
      }
      const found = await graph.neighbors('hub', { fanout: 3 })
      expect(found.map((n) => n.entity.id).sort()).toEqual(['leaf27', 'leaf28', 'leaf29'])
    })

    it('stays bounded on a dense graph with cycles', async () => {
      const n = 12
      for (let i = 0; i < n; i++) await graph.addEntity({ id: `n${i}`, name: `n${i}` })
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) if (i !== j) await graph.addRelation(`n${i}`, `n${j}`, 'knows')
      const found = await graph.neighbors('n0', { depth: 4, fanout: 4, limit: 50 })
      expect(found.length).toBeLessThanOrEqual(n - 1)
      expect(new Set(found.map((f) => f.entity.id)).size).toBe(found.length)
    })

    it('only follows the given edge types', async () => {
      await chain()
      expect((await graph.neighbors('a', { types: ['side'] })).map((n) => n.entity.id)).toEqual(['e'])
    })

    it('refuses a relation to a missing entity with NOT_FOUND', async () => {
      await graph.addEntity({ id: 'x', name: 'x' })
      await expectStorageError(graph.addRelation('x', 'nobody', 'knows'), 'NOT_FOUND')
    })

    it('removes an entity with its relations', async () => {
      await chain()
      expect(await graph.removeEntity('b')).toBe(true)
      expect((await graph.neighbors('a', { depth: 3 })).map((n) => n.entity.id)).toEqual(['e'])
    })

    it('rejects bad input with INVALID_ARGUMENT', async () => {
      await expectStorageError(graph.addEntity({ name: '' }), 'INVALID_ARGUMENT')
      await expectStorageError(graph.neighbors('a', { depth: 0 }), 'INVALID_ARGUMENT')
      await expectStorageError(graph.neighbors('a', { depth: 99 }), 'INVALID_ARGUMENT')
      await expectStorageError(graph.addRelation('a', 'b', 'x', { weight: Number.NaN }), 'INVALID_ARGUMENT')
    })

    it('keeps an id with quotes and SQL in it as plain data', async () => {
      const evil = `x'); DROP TABLE engram_entities; --`
      await graph.addEntity({ id: evil, name: 'evil' })
      await graph.addEntity({ id: 'ok', name: 'ok' })
      await graph.addRelation(evil, 'ok', 'knows')
      expect((await graph.neighbors(evil)).map((n) => n.entity.id)).toEqual(['ok'])
    })

    it('saves and loads agent state, replacing the previous value', async () => {
      const state = new AgentState(db)
      await state.initialize()
      expect(await state.load('agent-1')).toBeUndefined()
      await state.save('agent-1', { step: 1, plan: ['a', 'b'] })
      await state.save('agent-1', { step: 2, plan: ['b'] })
      await state.save('agent-2', 'other')
      expect(await state.load('agent-1')).toEqual({ step: 2, plan: ['b'] })
      expect(await state.load('agent-2')).toBe('other')
      expect(await state.clear('agent-1')).toBe(true)
      expect(await state.load('agent-1')).toBeUndefined()
    })

    it('refuses agent state that JSON cannot hold', async () => {
      const state = new AgentState(db)
      await state.initialize()
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      await expectStorageError(state.save('a', cyclic), 'INVALID_ARGUMENT')
      await expectStorageError(state.save('a', undefined), 'INVALID_ARGUMENT')
      await expectStorageError(state.save('', 1), 'INVALID_ARGUMENT')
    })
  })
}
