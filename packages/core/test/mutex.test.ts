import { describe, expect, it } from 'vitest'
import { Mutex } from '../src/index.js'

describe('Mutex', () => {
  it('hands the lock to waiters in arrival order', async () => {
    const mutex = new Mutex()
    const order: number[] = []
    await mutex.acquire()
    const waiters = [1, 2, 3].map((n) =>
      mutex.acquire().then(() => {
        order.push(n)
        mutex.release()
      }),
    )
    expect(mutex.tryAcquire()).toBe(false)
    mutex.release()
    await Promise.all(waiters)
    expect(order).toEqual([1, 2, 3])
    expect(mutex.locked).toBe(false)
  })
})
