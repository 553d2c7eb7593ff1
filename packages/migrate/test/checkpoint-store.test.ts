import { afterAll, describe, expect, it } from 'vitest'
import { CheckpointStore } from '../src/checkpoint-store.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_ckpt')
afterAll(() => env.cleanup())

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('CheckpointStore.advance on PostgreSQL', () => {
  it('commits two batches in order: the second waits for the first to commit, then moves on from it', async () => {
    const { name } = await env.schema()
    const db = env.postgres(name)
    const store = new CheckpointStore(db, 'job')
    await store.ensure()
    await store.save(db, { item: 'table:t', lastKey: null, copied: 0, done: false })
    const firstMoved = signal()
    const releaseFirst = signal()
    const order: string[] = []
    const first = db.transaction(async (tx) => {
      await store.advance(tx, 'table:t', 0, { lastKey: [100], copied: 100 })
      firstMoved.resolve()
      await releaseFirst.promise
      order.push('first commits')
    })
    const second = db.transaction(async (tx) => {
      await firstMoved.promise
      const moving = store
        .advance(tx, 'table:t', 100, { lastKey: [200], copied: 200 })
        .then(() => order.push('second moved'))
      // The second batch's statement is blocked on the checkpoint row until the first commits.
      setImmediate(releaseFirst.resolve)
      await moving
    })
    await Promise.all([first, second])
    expect(order).toEqual(['first commits', 'second moved'])
    expect(await store.load()).toEqual(
      new Map([['table:t', { item: 'table:t', lastKey: [200], copied: 200, done: false }]]),
    )
  })

  it('fails the second batch when the first rolled back, so no gap is ever checkpointed', async () => {
    const { name } = await env.schema()
    const db = env.postgres(name)
    const store = new CheckpointStore(db, 'job')
    await store.ensure()
    await store.save(db, { item: 'table:t', lastKey: null, copied: 0, done: false })
    const firstMoved = signal()
    const first = db.transaction(async (tx) => {
      await store.advance(tx, 'table:t', 0, { lastKey: [100], copied: 100 })
      firstMoved.resolve()
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('the first batch fails')
    })
    const second = db.transaction(async (tx) => {
      await firstMoved.promise
      await store.advance(tx, 'table:t', 100, { lastKey: [200], copied: 200 })
    })
    await expect(first).rejects.toThrow('the first batch fails')
    await expect(second).rejects.toMatchObject({ code: 'SERIALIZATION_FAILURE' })
    expect((await store.load()).get('table:t')).toMatchObject({ copied: 0, lastKey: null })
  })
})
