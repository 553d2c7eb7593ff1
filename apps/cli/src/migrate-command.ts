import type { MigrationResult } from '@engram/migrate'
import { type Command, conflictPolicy, count, nameList, positiveInteger, say } from './command.js'
import { registerDrivers, resolveEndpoint, vectorStoreFor } from './endpoints.js'
import { formatMs } from './progress-bar.js'
import { progressReporter } from './progress-reporter.js'

/** `engram migrate <from> <to>`: moves tables and collections, resumable and verified. */
export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'move every table and vector collection from one backend to another, resumable, verified',
  usage:
    'engram migrate <from> <to> [--tables a,b] [--collections c,d] [--dry-run] [--resume] [--verify] [--batch-size N] [--on-conflict error|skip|replace] [--json]',
  help: `<from> and <to> are SQLite paths (or file: URLs) and postgres:// URLs; each database's vector
collections move with it (@engram/sqlite-vector on SQLite, pgvector on Postgres).

  --tables a,b        only these tables (and no collections unless --collections is given)
  --collections c,d   only these collections (and no tables unless --tables is given)
  --dry-run           count and check everything, write nothing; not even the target file is created
  --resume            continue a migration that stopped; the target's checkpoints say where
  --verify            compare every table (counts and checksums) and every vector afterwards
  --batch-size N      rows per batch and per target transaction (default 5000)
  --on-conflict P     rows the target already has: error (default), skip, or replace
  --json              print one JSON result and nothing else on stdout

Exit code 0 on success, 1 on failure, when verification finds a difference or a dry run finds a
problem, 2 on a usage error.`,
  positionals: [2, 2],
  options: {
    tables: { type: 'string' },
    collections: { type: 'string' },
    'dry-run': { type: 'boolean' },
    resume: { type: 'boolean' },
    verify: { type: 'boolean' },
    'batch-size': { type: 'string' },
    'on-conflict': { type: 'string' },
  },
  async run({ values, positionals, json, io }) {
    const [from, to] = positionals as [string, string]
    const tables = nameList(values.tables, '--tables')
    const collections = nameList(values.collections, '--collections')
    const batchSize = positiveInteger(values['batch-size'], '--batch-size')
    const onConflict = conflictPolicy(values['on-conflict'])
    await registerDrivers()
    const { migrate } = await import('@engram/migrate')
    const progress = progressReporter(io.stderr, json)
    const result = await migrate({
      from: await resolveEndpoint(from),
      to: await resolveEndpoint(to),
      ...(tables ? { tables } : {}),
      ...(collections ? { collections } : {}),
      ...(batchSize ? { batchSize } : {}),
      ...(onConflict ? { onConflict } : {}),
      dryRun: values['dry-run'] === true,
      resume: values.resume === true,
      verify: values.verify === true,
      vectorStore: vectorStoreFor,
      onProgress: progress,
    })
    const failed = result.problems.length > 0 || (values.verify === true && !result.verified)
    if (!json) describe(result, values.verify === true, io.stdout)
    return { code: failed ? 1 : 0, result }
  },
}

function describe(result: MigrationResult, verify: boolean, out: Parameters<typeof say>[0]): void {
  const items = [
    ...result.tables.map((t) => ({ ...t, kind: 'table' })),
    ...result.collections.map((c) => ({ ...c, kind: 'collection' })),
  ]
  for (const item of items) {
    const what = item.kind === 'table' ? 'rows' : 'vectors'
    const state = {
      copied: `${count(item.copied)} ${what} copied`,
      resumed: `${count(item.copied)} ${what} copied after the checkpoint`,
      'already-done': 'already migrated; nothing to do',
      planned: `${count(item.sourceRows)} ${what} to copy`,
    }[item.status]
    say(out, `  ${item.kind === 'table' ? 'table     ' : 'collection'} ${item.name}: ${state}`)
  }
  for (const note of result.notes) say(out, `  note: ${note}`)
  if (result.dryRun) {
    say(
      out,
      `Dry run: ${count(result.rows)} rows and ${count(result.vectors)} vectors would be copied; nothing was written.`,
    )
    if (result.problems.length === 0) say(out, 'No problems found.')
    for (const problem of result.problems) say(out, `  problem: ${problem}`)
    return
  }
  const seconds = result.durationMs / 1000
  const rate = seconds > 0 ? Math.round(result.rows / seconds) : 0
  say(
    out,
    `Migrated ${count(result.rows)} rows and ${count(result.vectors)} vectors in ${formatMs(result.durationMs)} (${count(rate)} rows/s).`,
  )
  if (verify) {
    if (result.verified) say(out, 'Verified: every table and collection matches the source.')
    else for (const mismatch of result.mismatches) say(out, `  mismatch: ${mismatch.message}`)
  }
}
