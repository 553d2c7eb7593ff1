import { type Command, count, nameList, positiveInteger, say } from './command.js'
import { registerDrivers, resolveEndpoint, vectorStoreFor } from './endpoints.js'
import { formatMs } from './progress-bar.js'
import { progressReporter } from './progress-reporter.js'

/** `engram verify <a> <b>`: checks that two backends hold the same data. */
export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check that two backends hold the same rows and vectors (counts, checksums, bit-exact vectors)',
  usage: 'engram verify <a> <b> [--tables a,b] [--collections c,d] [--batch-size N] [--json]',
  help: `Compares every table of <a> with the same table in <b> (row counts and order-independent
checksums of a canonical encoding, the same on SQLite and Postgres) and every vector collection
record by record, vectors bit for bit. Neither side is changed.

  --tables a,b        only these tables (and no collections unless --collections is given)
  --collections c,d   only these collections (and no tables unless --tables is given)
  --batch-size N      rows read per page (default 5000)
  --json              print one JSON result and nothing else on stdout

Exit code 0 when everything matches, 1 when something differs or cannot be read.`,
  positionals: [2, 2],
  options: {
    tables: { type: 'string' },
    collections: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run({ values, positionals, json, io }) {
    const [a, b] = positionals as [string, string]
    const tables = nameList(values.tables, '--tables')
    const collections = nameList(values.collections, '--collections')
    const batchSize = positiveInteger(values['batch-size'], '--batch-size')
    await registerDrivers()
    const { verifyMigration } = await import('@engram/migrate')
    const result = await verifyMigration({
      from: await resolveEndpoint(a),
      to: await resolveEndpoint(b),
      ...(tables ? { tables } : {}),
      ...(collections ? { collections } : {}),
      ...(batchSize ? { batchSize } : {}),
      vectorStore: vectorStoreFor,
      onProgress: progressReporter(io.stderr, json),
    })
    if (!json) {
      for (const table of result.tables) {
        say(
          io.stdout,
          `  table      ${table.name}: ${count(table.rowsA)} rows, ${table.equal ? 'equal' : 'DIFFERENT'}`,
        )
      }
      for (const collection of result.collections) {
        say(
          io.stdout,
          `  collection ${collection.name}: ${count(collection.records)} vectors, ${collection.equal ? 'equal' : 'DIFFERENT'}`,
        )
      }
      for (const mismatch of result.mismatches) say(io.stdout, `  mismatch: ${mismatch.message}`)
      say(
        io.stdout,
        result.verified
          ? `Verified in ${formatMs(result.durationMs)}: both hold the same data.`
          : 'The two differ.',
      )
    }
    return { code: result.verified ? 0 : 1, result }
  },
}
