import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { StorageError } from '@engram/core'
import { type Command, nameList, positiveInteger, say, UsageError } from './command.js'
import { openDatabase } from './endpoints.js'
import { formatMs } from './progress-bar.js'
import { progressReporter } from './progress-reporter.js'

/** `engram export <db>`: writes the database as engram's JSON Lines export. */
export const exportCommand: Command = {
  name: 'export',
  summary: "write a database's tables as engram's JSON Lines export (gzip with .gz)",
  usage: 'engram export <db> [-o file.jsonl[.gz]] [--tables a,b] [--batch-size N] [--json]',
  help: `Writes every table (or those named) with its columns, keys and indexes, then its rows in key
order; blobs, integers beyond 2^53 and NULLs come back exactly (see docs/migrate.md for the format).
The vector engines' own tables are left out: move vectors with engram migrate.

  -o, --output F      write to F (gzip-compressed when F ends in .gz); default is stdout
  --tables a,b        only these tables
  --batch-size N      rows read per page (default 5000)
  --json              with -o: print one JSON summary on stdout`,
  positionals: [1, 1],
  options: {
    output: { type: 'string', short: 'o' },
    tables: { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run({ values, positionals, json, io }) {
    const output = values.output === undefined ? undefined : String(values.output)
    if (json && output === undefined)
      throw new UsageError('--json needs -o: without it the export itself goes to stdout')
    const tables = nameList(values.tables, '--tables')
    const batchSize = positiveInteger(values['batch-size'], '--batch-size')
    const started = performance.now()
    const db = await openDatabase(positionals[0] as string)
    try {
      if (!db.storage)
        throw new StorageError(
          'INVALID_ARGUMENT',
          'engram export writes SQL databases; this is a vector store',
        )
      const { exportDatabase } = await import('@engram/migrate')
      const rows = new Map<string, number>()
      const progress = progressReporter(io.stderr, json)
      let exportId = ''
      const chunks = async function* () {
        for await (const chunk of exportDatabase(db.storage as NonNullable<typeof db.storage>, {
          ...(tables ? { tables } : {}),
          ...(batchSize ? { batchSize } : {}),
          onProgress: (done, total, table) => {
            rows.set(table, done)
            progress(done, total, table)
          },
        })) {
          if (exportId === '') exportId = (JSON.parse(chunk) as { exportId: string }).exportId
          yield chunk
        }
      }
      if (output === undefined) {
        await pipeline(Readable.from(chunks()), io.stdout, { end: false })
        return { code: 0, result: { exportId } }
      }
      // Written beside the target and renamed at the end, so a failed export never looks complete.
      const partial = `${output}.partial`
      try {
        if (output.endsWith('.gz'))
          await pipeline(Readable.from(chunks()), createGzip(), createWriteStream(partial))
        else await pipeline(Readable.from(chunks()), createWriteStream(partial))
        renameSync(partial, output)
      } catch (error) {
        rmSync(partial, { force: true })
        throw error
      }
      const result = {
        exportId,
        output,
        bytes: statSync(output).size,
        tables: [...rows].map(([name, n]) => ({ name, rows: n })),
        rows: [...rows.values()].reduce((a, b) => a + b, 0),
        durationMs: performance.now() - started,
      }
      if (!json)
        say(
          io.stdout,
          `Exported ${result.rows.toLocaleString('en-US')} rows of ${result.tables.length} tables to ${output} in ${formatMs(result.durationMs)}.`,
        )
      return { code: 0, result }
    } finally {
      await db.close()
    }
  },
}
