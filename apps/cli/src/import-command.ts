import { createReadStream, existsSync } from 'node:fs'
import { createGunzip } from 'node:zlib'
import { StorageError } from '@engram/core'
import { type Command, conflictPolicy, count, nameList, positiveInteger, say } from './command.js'
import { openDatabase } from './endpoints.js'
import { formatMs } from './progress-bar.js'
import { progressReporter } from './progress-reporter.js'

/** `engram import <db> <file>`: writes an engram export into a database. */
export const importCommand: Command = {
  name: 'import',
  summary: 'write an engram export into a database (created if it is a new SQLite file)',
  usage:
    'engram import <db> <file|-> [--tables a,b] [--on-conflict error|skip|replace] [--batch-size N] [--json]',
  help: `Creates the tables the database lacks (translating types between SQLite and Postgres) and
writes the rows in batches, one transaction each with a checkpoint: importing the same file again
continues where it stopped, or adds nothing. Gzip-compressed files are recognised by their first
bytes. "-" reads standard input.

  --tables a,b        only these tables of the export
  --on-conflict P     rows the database already has: error (default), skip, or replace
  --batch-size N      rows per transaction (default 5000)
  --json              print one JSON result and nothing else on stdout`,
  positionals: [2, 2],
  options: {
    tables: { type: 'string' },
    'on-conflict': { type: 'string' },
    'batch-size': { type: 'string' },
  },
  async run({ values, positionals, json, io }) {
    const [target, file] = positionals as [string, string]
    const tables = nameList(values.tables, '--tables')
    const onConflict = conflictPolicy(values['on-conflict'])
    const batchSize = positiveInteger(values['batch-size'], '--batch-size')
    if (file !== '-' && !existsSync(file)) throw new StorageError('NOT_FOUND', `There is no file ${file}`)
    const db = await openDatabase(target, { create: true })
    try {
      if (!db.storage)
        throw new StorageError(
          'INVALID_ARGUMENT',
          'engram import writes SQL databases; this is a vector store',
        )
      const { importDatabase } = await import('@engram/migrate')
      const result = await importDatabase(
        db.storage,
        gunzipIfNeeded(file === '-' ? io.stdin : createReadStream(file)),
        {
          ...(tables ? { tables } : {}),
          ...(onConflict ? { onConflict } : {}),
          ...(batchSize ? { batchSize } : {}),
          onProgress: progressReporter(io.stderr, json),
        },
      )
      if (!json) {
        for (const table of result.tables) {
          say(
            io.stdout,
            `  ${table.name}: ${table.status === 'already-done' ? 'already imported' : `${count(table.copied)} rows written`}`,
          )
        }
        for (const note of result.notes) say(io.stdout, `  note: ${note}`)
        say(io.stdout, `Imported ${count(result.rows)} rows in ${formatMs(result.durationMs)}.`)
      }
      return { code: 0, result }
    } finally {
      await db.close()
    }
  },
}

/** Passes chunks through, gunzipping them when the first bytes are gzip's magic number. */
async function* gunzipIfNeeded(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<Uint8Array | string> {
  const chunks = source[Symbol.asyncIterator]()
  const first = await chunks.next()
  if (first.done) return
  const head = first.value
  const gzip = typeof head !== 'string' && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b
  if (!gzip) {
    yield head
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value
    return
  }
  const gunzip = createGunzip()
  const feed = (async () => {
    try {
      for (let next: IteratorResult<Uint8Array | string> = first; !next.done; next = await chunks.next()) {
        if (!gunzip.write(next.value)) await new Promise((resolve) => gunzip.once('drain', resolve))
      }
      gunzip.end()
    } catch (error) {
      gunzip.destroy(error as Error)
    }
  })()
  yield* gunzip
  await feed
}
