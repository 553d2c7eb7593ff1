import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import type { MemorySizes } from './memory-suite.js'
import { collectedTables } from './result-table.js'
import { CHILD_FLAG } from './row-process.js'
import type { ScaleSuiteOptions } from './scale-suite.js'
import type { SuiteOptions } from './suite-options.js'
import type { VectorSize } from './vectors-suite.js'

/**
 * Every suite `pnpm bench <suite>` can run, with what it measures. Each loads its module (and its
 * peers' native code) only when it runs, so a peer that fails to load cannot take the others down.
 */
const SUITES: Record<string, { about: string; run: (options: RunnerOptions) => Promise<void> }> = {
  overhead: {
    about:
      'quick: @engram/sqlite-native against raw better-sqlite3 (point read beside the async floor, 1,000-row inserts), and the HNSW sidecar (record cache on and off) against hnswlib-node (alone, and with a hand-written read of the winners) at 10k × 384, about a minute',
    run: async (options) => {
      await (await import('./sqlite-overhead.js')).sqliteOverhead({ smoke: options.smoke })
      await (await import('./sidecar-overhead.js')).sidecarOverhead({
        smoke: options.smoke,
        ...(options.sizes ? { sizes: options.sizes } : {}),
      })
    },
  },
  sql: {
    about:
      'point read, 20-row read, 1,000-row insert, concurrent transactions: raw better-sqlite3 / pg, engram, @framers/sql-storage-adapter, Kysely',
    run: async (options) => (await import('./sql-suite.js')).sqlSuite(options),
  },
  vectors: {
    about:
      'exact and ANN search at 10k × 384, 10k × 1,536, 100k × 384: engram (SQLite ± sidecar, PgVectorStore), LanceDB, vectra, raw hnswlib-node, @mastra/pg, raw pgvector',
    run: async (options) => (await import('./vectors-suite.js')).vectorsSuite(options),
  },
  quality: {
    about:
      'recall@10 and MRR on a generated labelled set (paraphrase, exact-term, mixed queries) for vector, text and hybrid search on every engram store, engram Memory and @framers/agentos, with latency beside it',
    run: async (options) => (await import('./quality-suite.js')).qualitySuite(options),
  },
  scale: {
    about:
      'the scale path: SQLite exact, SQLite + HNSW and pgvector at 10k, 100k and 500k × 384, one process per point (16 to 35 min at full size)',
    run: async (options) => (await import('./scale-suite.js')).scaleSuite(options),
  },
  memory: {
    about:
      'conversation ingest and reads at 10k × 50 turns, recall at 100k memories: engram on SQLite and PostgreSQL, raw better-sqlite3, @framers/agentos Memory',
    run: async (options) =>
      (await import('./memory-suite.js')).memorySuite({
        smoke: options.smoke,
        pgUrl: options.pgUrl,
        sizes: options.memorySizes ?? {},
        ...(options.ingestBudgetSeconds ? { ingestBudgetSeconds: options.ingestBudgetSeconds } : {}),
      }),
  },
  sqljs: {
    about: '@engram/sqljs persistence (file and custom persistence) on sql.js',
    run: async (options) =>
      (await import('./sqljs-persistence.js')).sqljsPersistence({ smoke: options.smoke }),
  },
  backup: {
    about:
      'backup and restore of 10,000 conversations × 50 turns with @engram/backup to a folder and to s3rver, gzip and none, beside VACUUM INTO + zlib and @framers/sql-storage-adapter',
    run: async (options) => (await import('./backup-suite.js')).backupSuite(options),
  },
  migrate: {
    about:
      'engram migrate of 10,000 conversations × 50 turns SQLite → PostgreSQL, with and without --verify, beside a raw-driver copy and @framers/sql-storage-adapter',
    run: async (options) => (await import('./migrate-suite.js')).migrateSuite(options),
  },
}

interface RunnerOptions
  extends SuiteOptions,
    Pick<ScaleSuiteOptions, 'tiers' | 'pointMinutes' | 'maxRssGiB'> {
  sizes?: VectorSize[]
  memorySizes?: Partial<MemorySizes>
  ingestBudgetSeconds?: number
}

const USAGE = `usage: pnpm bench <suite> [--smoke] [--embeddings <file> [--dim <n>]] [--sizes 10000x384,...] [--json <file>]
       pnpm bench all --smoke       every suite at tiny sizes (what CI runs)

suites:
${Object.entries(SUITES)
  .map(([name, suite]) => `  ${name.padEnd(9)} ${suite.about}`)
  .join('\n')}

options:
  --smoke             tiny sizes: checks that every system still runs; the figures mean nothing
  --embeddings <file> vectors suite: real vectors instead of generated ones (.f32 raw float32 with --dim, or .jsonl)
  --sizes <list>      vectors, scale and overhead (its sidecar part) suites: sizes to run, e.g. 10000x384,100000x384
  --tiers <list>      scale suite: sqlite-exact,sqlite-hnsw,pgvector (default all)
  --point-minutes <n> scale suite: minutes one tier may spend on one size before it is stopped (default 60)
  --max-rss-gib <n>   scale suite: GiB of RSS one tier's process may reach before it is stopped (default 12)
  --conversations <n> --turns <n> --memories <n>   memory suite: sizes
  --ingest-budget <s> memory suite: seconds a peer without a batch API may spend storing memories (default 900)
  --json <file>       also write every table as JSON
  PostgreSQL: $ENGRAM_PG_URL, default postgres://postgres@127.0.0.1:5432/engram_test (bash scripts/services.sh starts it)`

function parseSizes(text: string): VectorSize[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)x(\d+)$/.exec(part.trim())
    if (!match) throw new UsageError(`--sizes takes <count>x<dimension>[,...], got "${part}"`)
    return { count: Number(match[1]), dimension: Number(match[2]) }
  })
}

class UsageError extends Error {}

async function parseTiers(text: string): Promise<ScaleSuiteOptions['tiers']> {
  const { SCALE_TIERS } = await import('./scale-tiers.js')
  return text.split(',').map((part) => {
    const tier = SCALE_TIERS.find((t) => t === part.trim())
    if (!tier) throw new UsageError(`--tiers takes ${SCALE_TIERS.join(',')}, got "${part}"`)
    return tier
  })
}

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} takes a positive integer, got "${value}"`)
  return n
}

async function main(argv: string[]): Promise<number> {
  // The suites' own child processes (one per vector row or scale point) enter here.
  if (argv[0] === CHILD_FLAG) return (await import('./row-process.js')).serveChildTask()
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      smoke: { type: 'boolean', default: false },
      embeddings: { type: 'string' },
      dim: { type: 'string' },
      sizes: { type: 'string' },
      conversations: { type: 'string' },
      turns: { type: 'string' },
      memories: { type: 'string' },
      'ingest-budget': { type: 'string' },
      tiers: { type: 'string' },
      'point-minutes': { type: 'string' },
      'max-rss-gib': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [name, ...extra] = positionals
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (extra.length > 0) throw new UsageError(`one suite at a time (or "all"), got: ${positionals.join(' ')}`)
  const names = name === undefined ? ['overhead'] : name === 'all' ? Object.keys(SUITES) : [name]
  for (const n of names) if (!SUITES[n]) throw new UsageError(`unknown suite "${n}"`)
  if (name === undefined) {
    // No argument: the quick suite, as `pnpm bench` always did, and the list of the others.
    console.log(`${USAGE}\n\nno suite given: running the quick "overhead" suite\n`)
  }
  const embeddingDim = positiveInteger(values.dim, '--dim')
  if (values.embeddings?.endsWith('.f32') && embeddingDim === undefined) {
    throw new UsageError('--embeddings with a .f32 file needs --dim <numbers per vector>')
  }
  const memorySizes: Partial<MemorySizes> = {}
  for (const key of ['conversations', 'turns', 'memories'] as const) {
    const n = positiveInteger(values[key], `--${key}`)
    if (n !== undefined) memorySizes[key] = n
  }
  const options: RunnerOptions = {
    smoke: values.smoke ?? false,
    pgUrl: process.env.ENGRAM_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/engram_test',
    ...(values.embeddings
      ? { embeddings: { path: values.embeddings, ...(embeddingDim ? { dimension: embeddingDim } : {}) } }
      : {}),
    ...(values.sizes ? { sizes: parseSizes(values.sizes) } : {}),
    memorySizes,
    ...(values['ingest-budget']
      ? { ingestBudgetSeconds: positiveInteger(values['ingest-budget'], '--ingest-budget') }
      : {}),
    ...(values.tiers ? { tiers: await parseTiers(values.tiers) } : {}),
    ...(values['point-minutes']
      ? { pointMinutes: positiveInteger(values['point-minutes'], '--point-minutes') }
      : {}),
    ...(values['max-rss-gib'] ? { maxRssGiB: positiveInteger(values['max-rss-gib'], '--max-rss-gib') } : {}),
  }
  console.log(
    `# engram bench: ${names.join(', ')}${options.smoke ? ' (smoke sizes: the figures mean nothing)' : ''}\n\n` +
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`,
  )
  let failed = 0
  for (const n of names) {
    const started = performance.now()
    console.log(`\n# suite ${n}`)
    try {
      await SUITES[n]?.run(options)
    } catch (error) {
      // One broken suite must not hide the others' results.
      failed++
      console.error(`suite ${n} failed:`, error)
    }
    console.log(`\nsuite ${n} took ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify(collectedTables(), null, 2)}\n`)
  return failed === 0 ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      console.error(`${error.message}\n\n${USAGE}`)
      process.exitCode = 2
      return
    }
    console.error(error)
    process.exitCode = 1
  },
)
