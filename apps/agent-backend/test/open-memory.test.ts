import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { chooseStorage, describePlan, openMemory } from '../src/open-memory.js'
import { createSchema, dropSchema, freshSchemaName, PG_URL } from './test-backends.js'

describe('openMemory', () => {
  const folder = mkdtempSync(join(tmpdir(), 'engram-open-memory-'))
  afterAll(() => rmSync(folder, { recursive: true, force: true }))

  it('chooses Postgres when DATABASE_URL is set, and a SQLite file in ENGRAM_DATA_DIR otherwise', () => {
    expect(chooseStorage({ DATABASE_URL: 'postgres://app@db/app' })).toEqual({
      backend: 'postgres',
      url: 'postgres://app@db/app',
    })
    expect(
      chooseStorage({ DATABASE_URL: 'postgresql://app@db/app', ENGRAM_PG_SCHEMA: 'agents' }),
    ).toMatchObject({
      backend: 'postgres',
      schema: 'agents',
    })
    expect(chooseStorage({ ENGRAM_DATA_DIR: '/var/lib/agent' })).toEqual({
      backend: 'sqlite',
      path: join('/var/lib/agent', 'memory.db'),
    })
    expect(chooseStorage({ DATABASE_URL: '' })).toEqual({
      backend: 'sqlite',
      path: join('.engram', 'memory.db'),
    })
    expect(() => chooseStorage({ DATABASE_URL: 'mysql://app@db/app' })).toThrow(/postgres:\/\//)
  })

  it('describes the choice for logs without the password', () => {
    const line = describePlan({ backend: 'postgres', url: 'postgres://app:hunter2@db.internal:5433/agents' })
    expect(line).toBe('PostgreSQL app@db.internal:5433/agents')
    expect(line).not.toContain('hunter2')
  })

  it('opens the embedded SQLite file when DATABASE_URL is unset', async () => {
    const opened = await openMemory({ ENGRAM_DATA_DIR: folder })
    try {
      expect(opened.memory.storage.kind).toBe('sqlite-native')
      expect(existsSync(join(folder, 'memory.db'))).toBe(true)
    } finally {
      await opened.close()
    }
  })

  it('opens Postgres with pgvector from DATABASE_URL, with its tables in ENGRAM_PG_SCHEMA', async () => {
    const schema = freshSchemaName()
    const admin = await createSchema(schema)
    try {
      const opened = await openMemory({ DATABASE_URL: PG_URL, ENGRAM_PG_SCHEMA: schema })
      try {
        expect(opened.plan).toEqual({ backend: 'postgres', url: PG_URL, schema })
        expect(opened.memory.storage.kind).toBe('postgres')
        expect(opened.memory.vectors.kind).toBe('pgvector')
        await opened.memory.remember('stored through DATABASE_URL', { scope: 'user:x' })
        const hits = await opened.memory.recall('DATABASE_URL', { scope: 'user:x' })
        expect(hits[0]?.trace.text).toBe('stored through DATABASE_URL')
      } finally {
        await opened.close()
      }
      const tables = await admin.all<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = ?',
        [schema],
      )
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['engram_traces', 'engram_conversations']),
      )
    } finally {
      await dropSchema(admin, schema)
    }
  })

  it('refuses an ENGRAM_PG_SCHEMA that does not exist rather than writing into public', async () => {
    await expect(
      openMemory({ DATABASE_URL: PG_URL, ENGRAM_PG_SCHEMA: 'engram_no_such_schema_here' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('CREATE SCHEMA') })
  })
})
