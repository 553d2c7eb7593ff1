import { describe, expect, it } from 'vitest'
import { LocalLockManager } from '../src/index.js'

/** A promise with its resolve function, to hold a lock until the test lets go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('LocalLockManager', () => {
  it('grants an exclusive lock to one holder at a time, in request order', async () => {
    const locks = new LocalLockManager()
    const order: string[] = []
    const first = gate()
    const a = locks.request('x', async () => {
      order.push('a start')
      await first.promise
      order.push('a end')
    })
    const b = locks.request('x', async () => {
      order.push('b')
    })
    const c = locks.request('x', async () => {
      order.push('c')
    })
    await Promise.resolve()
    expect(order).toEqual(['a start'])
    first.open()
    await Promise.all([a, b, c])
    expect(order).toEqual(['a start', 'a end', 'b', 'c'])
  })

  it('lets locks with different names run at once', async () => {
    const locks = new LocalLockManager()
    const held = gate()
    const a = locks.request('x', () => held.promise)
    let ranB = false
    await locks.request('y', async () => {
      ranB = true
    })
    expect(ranB).toBe(true)
    held.open()
    await a
  })

  it('shares a shared lock and makes an exclusive request wait for every holder', async () => {
    const locks = new LocalLockManager()
    const held = gate()
    let readers = 0
    const r1 = locks.request('x', { mode: 'shared' }, async () => {
      readers++
      await held.promise
    })
    const r2 = locks.request('x', { mode: 'shared' }, async () => {
      readers++
      await held.promise
    })
    let wrote = false
    const w = locks.request('x', async () => {
      wrote = true
    })
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(readers).toBe(2)
    expect(wrote).toBe(false)
    held.open()
    await Promise.all([r1, r2, w])
    expect(wrote).toBe(true)
  })

  it('returns the callback’s value, passes its error on, and releases the lock either way', async () => {
    const locks = new LocalLockManager()
    expect(await locks.request('x', async () => 42)).toBe(42)
    const boom = new Error('boom')
    await expect(
      locks.request('x', () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(await locks.request('x', async () => 'free again')).toBe('free again')
  })

  it('with ifAvailable, calls back with null instead of waiting', async () => {
    const locks = new LocalLockManager()
    const held = gate()
    const a = locks.request('x', () => held.promise)
    expect(await locks.request('x', { ifAvailable: true }, (lock) => lock)).toBeNull()
    held.open()
    await a
    expect(await locks.request('x', { ifAvailable: true }, (lock) => lock?.name)).toBe('x')
  })

  it('drops a waiting request when its signal aborts', async () => {
    const locks = new LocalLockManager()
    const held = gate()
    const a = locks.request('x', () => held.promise)
    const controller = new AbortController()
    let ran = false
    const waiting = locks.request('x', { signal: controller.signal }, async () => {
      ran = true
    })
    controller.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
    held.open()
    await a
    expect(ran).toBe(false)
    expect(await locks.query()).toEqual({ held: [], pending: [] })
  })

  it('reports held and pending locks from query()', async () => {
    const locks = new LocalLockManager()
    const held = gate()
    const a = locks.request('x', () => held.promise)
    const b = locks.request('x', async () => undefined)
    const snapshot = await locks.query()
    expect(snapshot.held?.map((lock) => lock.name)).toEqual(['x'])
    expect(snapshot.pending?.map((lock) => lock.mode)).toEqual(['exclusive'])
    held.open()
    await Promise.all([a, b])
  })
})
