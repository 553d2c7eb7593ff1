import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import type { ResultTable } from '../src/result-table.js'

// Each suite runs as `node dist/main.js <suite> --smoke`, the way `pnpm bench` runs it, in its own
// process so native libraries (LanceDB, hnswlib) and their memory stay out of the test worker.
// Nothing here looks at timings: the smoke sizes only prove that every system still runs.
const run = promisify(execFile)
const app = join(dirname(fileURLToPath(import.meta.url)), '..')
const main = join(app, 'dist', 'main.js')
const scratch = mkdtempSync(join(tmpdir(), 'engram-bench-smoke-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function smoke(suite: string): Promise<{ stdout: string; tables: ResultTable[] }> {
  if (!existsSync(main))
    throw new Error(`${main} is missing: build first (pnpm turbo run build --filter=@engram/bench)`)
  const json = join(scratch, `${suite}.json`)
  const { stdout } = await run(process.execPath, [main, suite, '--smoke', '--json', json], {
    cwd: app,
    maxBuffer: 64 * 1024 * 1024,
    // The suites' own defaults, not vitest's NODE_ENV=test (which turns on engram's transaction guard).
    env: { ...process.env, NODE_ENV: 'production' },
  })
  return { stdout, tables: JSON.parse(readFileSync(json, 'utf8')) as ResultTable[] }
}

/** Every expected system has a row in every table: figures when it ran, an error when it could not. */
function expectRows(tables: readonly ResultTable[], expected: Record<string, 'runs' | 'cannot run'>): void {
  expect(tables.length).toBeGreaterThan(0)
  for (const table of tables) {
    expect(
      table.rows.some((r) => r.role === 'engram' && r.stats),
      `${table.title}: an engram row with figures`,
    ).toBe(true)
    for (const row of table.rows) {
      expect(
        Boolean(row.stats) || Boolean(row.error),
        `${table.title}: ${row.system} has figures or an error`,
      ).toBe(true)
    }
    for (const [prefix, state] of Object.entries(expected)) {
      const rows = table.rows.filter((r) => r.system.startsWith(prefix))
      if (rows.length === 0) continue
      for (const row of rows) {
        if (state === 'runs') expect(row.error, `${table.title}: ${row.system}`).toBeUndefined()
        else expect(row.error, `${table.title}: ${row.system} says why it cannot run`).toBeTruthy()
      }
    }
  }
  // Each expected system appears somewhere, so none is silently dropped.
  for (const prefix of Object.keys(expected)) {
    expect(
      tables.some((t) => t.rows.some((r) => r.system.startsWith(prefix))),
      `${prefix} has a row`,
    ).toBe(true)
  }
}

describe('pnpm bench <suite> --smoke', { timeout: 180_000 }, () => {
  it('sql: raw drivers, engram, @framers/sql-storage-adapter and Kysely on SQLite and PostgreSQL', async () => {
    const { tables } = await smoke('sql')
    expect(tables).toHaveLength(8)
    expectRows(tables, {
      'raw better-sqlite3': 'runs',
      'raw pg': 'runs',
      'engram sqlite-native': 'runs',
      'engram postgres': 'runs',
      '@framers/sql-storage-adapter': 'runs',
      Kysely: 'runs',
    })
  })

  it('vectors: engram with and without the sidecar, LanceDB, vectra, hnswlib-node, PgVectorStore and @mastra/pg', async () => {
    const { tables } = await smoke('vectors')
    expect(tables.map((t) => t.title)).toEqual([
      'Exact search, 1,200 × 32 (embedded)',
      'ANN search, 1,200 × 32 (embedded)',
      'ANN search, 1,200 × 32 (PostgreSQL + pgvector HNSW, m 16, ef_construction 64, ef_search 40)',
    ])
    expectRows(tables, {
      'raw: brute force': 'runs',
      'raw hnswlib-node': 'runs',
      'raw pg + pgvector': 'runs',
      'engram SqlVectorStore, exact': 'runs',
      'engram SqlVectorStore + hnsw sidecar': 'runs',
      'engram PgVectorStore': 'runs',
      LanceDB: 'runs',
      vectra: 'runs',
      '@mastra/pg': 'runs',
    })
    for (const row of tables.flatMap((t) => t.rows))
      expect(row.extra?.['recall@10'], row.system).toMatch(/^\d\.\d{4}$/)
    // One process per system: LanceDB's two rows share one, the three PostgreSQL rows another.
    const rows = tables.flatMap((t) => t.rows)
    const pids = new Set(rows.map((r) => r.process?.pid))
    expect(pids.has(undefined)).toBe(false)
    expect(pids.size).toBe(7)
    expect(new Set(rows.filter((r) => r.system.startsWith('LanceDB')).map((r) => r.process?.pid)).size).toBe(
      1,
    )
    for (const row of rows) expect(row.process?.peakRss, row.system).toBeGreaterThan(0)
  })

  it('quality: recall@10 and MRR for vector, text and hybrid on every store, engram Memory and @framers/agentos', async () => {
    const { tables } = await smoke('quality')
    expect(tables.map((t) => t.title)).toEqual([
      'Quality, vector search (the query vector only), 96 records',
      'Quality, text search (the query text only), 96 records',
      'Quality, hybrid search (vector and text, fused with RRF), 96 records',
    ])
    const [vector, text, hybrid] = tables as [ResultTable, ResultTable, ResultTable]
    expectRows(tables, {
      'engram sqlite-vector': 'runs',
      'engram PgVectorStore': 'runs',
      'engram QdrantVectorStore': 'runs',
      'engram SupabaseVectorStore': 'runs',
      'engram Memory.open': 'runs',
      '@framers/agentos': 'runs',
    })
    expect(vector.rows.find((r) => r.role === 'raw')?.stats).toBeDefined()
    expect(hybrid.rows.some((r) => r.system.startsWith('@framers/agentos'))).toBe(true)
    // Pinecone has no text search: its vector row runs, its text and hybrid rows say why not.
    const pinecone = (t: ResultTable) => t.rows.find((r) => r.system.startsWith('engram PineconeVectorStore'))
    expect(pinecone(vector)?.stats).toBeDefined()
    expect(pinecone(text)?.error).toMatch(/no text search/)
    expect(pinecone(hybrid)?.error).toMatch(/no text search/)
    // The set behaves as it is built: every exact-term code is found first by text search and
    // never by vector search; paraphrases are found by vector search and missed by text search.
    const score = (cell: string | undefined) => cell?.split(' / ').map(Number) ?? []
    for (const row of vector.rows.filter((r) => r.stats)) {
      expect(score(row.extra?.['exact-term R@10 / MRR']), row.system).toEqual([0, 0])
      expect(score(row.extra?.['paraphrase R@10 / MRR'])[0], row.system).toBeGreaterThan(0.5)
    }
    for (const row of text.rows.filter((r) => r.stats)) {
      expect(score(row.extra?.['exact-term R@10 / MRR']), row.system).toEqual([1, 1])
      expect(score(row.extra?.['paraphrase R@10 / MRR'])[0], row.system).toBeLessThan(0.5)
    }
    for (const row of tables.flatMap((t) => t.rows).filter((r) => r.stats)) {
      for (const column of ['all R@10', 'all MRR']) {
        const value = Number(row.extra?.[column])
        expect(value, `${row.system} ${column}`).toBeGreaterThanOrEqual(0)
        expect(value, `${row.system} ${column}`).toBeLessThanOrEqual(1)
      }
    }
  })

  it('scale: SQLite exact, SQLite + HNSW and pgvector, each in its own process, then the extrapolation', async () => {
    const { stdout, tables } = await smoke('scale')
    expect(tables.map((t) => t.title)).toEqual(['Scale path, 2,000 × 32, cosine, top 10'])
    const rows = tables[0]?.rows ?? []
    expect(rows.map((r) => r.system.split(' (')[0])).toEqual([
      'engram sqlite-vector, exact',
      'engram sqlite-vector + hnsw sidecar',
      'engram PgVectorStore',
    ])
    for (const row of rows) {
      expect(row.error, row.system).toBeUndefined()
      expect(row.extra?.['recall@10'], row.system).toMatch(/^\d\.\d{4} \(20 q\)$/)
      expect(Number.parseFloat(row.extra?.['recall@10'] ?? ''), row.system).toBeGreaterThan(0.9)
    }
    expect(new Set(rows.map((r) => r.process?.pid)).size).toBe(3)
    expect(stdout).toContain('EXTRAPOLATED beyond the last measured size (not measured)')
  })

  it('memory: ConversationMemory and Memory on SQLite and PostgreSQL, raw better-sqlite3, @framers/agentos', async () => {
    const { tables } = await smoke('memory')
    expect(tables).toHaveLength(5)
    // The last table times a recall right after each remember(), for each memory layer's default mode.
    expect(tables[4]?.title).toContain('right after remember()')
    expect(tables[4]?.rows.map((r) => r.system.split(' (')[0])).toEqual([
      'engram Memory, SQLite',
      'engram Memory, PostgreSQL',
      '@framers/agentos 0.9.164 Memory.createSqlite',
    ])
    // Every memory layer holds every memory it was given: the texts are distinct, so none is dropped as a repeat.
    const recall = tables[3]
    const size = recall?.title.match(/at ([\d,]+) memories/)?.[1]
    const held = recall?.rows.filter((r) => r.extra?.['memories held'] !== '-') ?? []
    expect([...new Set(held.map((r) => r.system.split(' (')[0]))]).toEqual([
      'engram Memory, SQLite',
      'engram Memory, PostgreSQL',
      '@framers/agentos 0.9.164 Memory.createSqlite',
    ])
    for (const row of held) expect(row.extra?.['memories held'], row.system).toBe(size)
    // Each layer's remember() is timed apart from the recall after it (index work may sit in either).
    for (const row of tables[4]?.rows ?? [])
      expect(row.extra?.['remember() before it (median)'], row.system).toMatch(/^\d+(\.\d+)? (µs|ms)$/)
    expectRows(tables, {
      'raw better-sqlite3': 'runs',
      'engram ConversationMemory, SQLite': 'runs',
      'engram ConversationMemory, PostgreSQL': 'runs',
      'engram Memory, SQLite': 'runs',
      'engram Memory, PostgreSQL': 'runs',
      '@framers/agentos': 'runs',
    })
  })

  it('overhead: the quick sqlite-native suite', async () => {
    const { stdout } = await smoke('overhead')
    expect(stdout).toContain('engram sqlite-native get()')
    expect(stdout).toContain('engram sqlite-vector query() with the HNSW sidecar')
    expect(stdout).toContain('engram sqlite-vector query(), record cache off (every winner read)')
    // The same answer built by hand, and a check that it is the same work.
    expect(stdout).toContain('hnswlib-node searchKnn() + a prepared better-sqlite3 read of the winners')
    expect(stdout).toMatch(/The hand-built answer and engram's share [\d,]+ of [\d,]+ top-10 ids/)
  })

  it('sqljs: the sql.js persistence suite, beside raw sql.js and sqlite-native', async () => {
    const { tables } = await smoke('sqljs')
    expect(tables).toHaveLength(2)
    expectRows(tables, {
      'raw sql.js': 'runs',
      'engram sqljs': 'runs',
      'engram sqlite-native': 'runs',
    })
  })

  it('backup: @engram/backup to a folder and s3rver, gzip and none, beside VACUUM INTO + zlib and @framers', async () => {
    const { tables } = await smoke('backup')
    expect(tables).toHaveLength(2)
    expect(tables[0]?.title).toMatch(/^Backup of 100 conversations × 10 turns \(/)
    expect(tables[1]?.title).toBe('Restore of that backup to a new file (verified, then swapped in)')
    expectRows(tables, {
      'raw better-sqlite3': 'runs',
      'engram → folder, gzip': 'runs',
      'engram → folder, none': 'runs',
      'engram → s3rver, gzip': 'runs',
      'engram → s3rver, none': 'runs',
    })
    expect(tables[0]?.rows.find((r) => r.system.startsWith('@framers'))?.stats).toBeDefined()
  })

  it('migrate: engram migrate with and without --verify, a raw-driver copy and @framers/sql-storage-adapter', async () => {
    const { tables } = await smoke('migrate')
    expect(tables).toHaveLength(1)
    expectRows(tables, {
      'engram migrate --verify': 'runs',
      'engram migrate (no verification)': 'runs',
      'raw better-sqlite3': 'runs',
      '@framers/sql-storage-adapter': 'runs',
    })
    const verified = tables[0]?.rows.find((r) => r.system === 'engram migrate --verify')
    expect(verified?.extra).toEqual({ verified: 'counts + checksums', resumable: 'yes' })
  })

  it('rejects an unknown suite with the usage text', async () => {
    const failure = await run(process.execPath, [main, 'nope'], { cwd: app }).catch((error: unknown) => error)
    expect(failure).toMatchObject({ code: 2 })
    expect((failure as { stderr: string }).stderr).toContain('unknown suite "nope"')
    expect((failure as { stderr: string }).stderr).toContain('suites:')
  })
})
