import { afterAll, describe, expect, it } from 'vitest'
import { migrate } from '../src/index.js'
import { scratch } from './test-env.js'

const env = scratch('engram_mig_verify')
afterAll(() => env.cleanup())

describe('verify after migrate', () => {
  it('reads the source again when another connection changed it during the copy, and reports the difference', async () => {
    const path = env.file()
    const writer = env.sqlite(path)
    await writer.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
    await writer.transaction(async (tx) => {
      for (let i = 1; i <= 2000; i++) await tx.run('INSERT INTO notes VALUES (?, ?)', [i, `note ${i}`])
    })
    let changed: Promise<unknown> | undefined
    const result = await migrate({
      from: path,
      to: env.file(),
      batchSize: 500,
      verify: true,
      onProgress: (done, _total, _name, detail) => {
        // Row 1 is already copied when the first batch is done; another connection now changes it.
        if (detail.phase === 'copy' && done >= 500 && changed === undefined) {
          changed = writer.run("UPDATE notes SET body = 'changed behind the copy' WHERE id = 1")
        }
      },
    })
    await changed
    expect(result.verified).toBe(false)
    expect(result.mismatches).toEqual([
      expect.objectContaining({
        kind: 'table',
        name: 'notes',
        message: expect.stringContaining('contents differ'),
      }),
    ])
  })

  it('finds nothing different when nothing changed', async () => {
    const path = env.file()
    const db = env.sqlite(path)
    await db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
    await db.run("INSERT INTO notes VALUES (1, 'one'), (2, 'two')")
    const { url } = await env.schema()
    const result = await migrate({ from: path, to: url, verify: true })
    expect(result).toMatchObject({ verified: true, mismatches: [] })
  })
})
