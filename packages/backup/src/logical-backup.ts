import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createDatabase, type SqlDialect, type StorageAdapter, StorageError } from '@engram/core'
import {
  CHECKPOINT_TABLE,
  type ChunkSource,
  type ExportHeader,
  exportDatabase,
  importDatabase,
  readSchema,
} from '@engram/migrate'
import type { BackupManifest } from './backup-manifest.js'
import { partialPath, syncFile, syncFolder } from './durable-file.js'
import { holdsData } from './holds-data.js'
import { refuseOpenFile } from './install-sqlite-file.js'

/** What a logical restore wrote, and what it could not carry. */
export interface LogicalRestore {
  /** Rows written. */
  readonly rows: number
  /** What the target did not get, in words (virtual tables, vector collections). */
  readonly notes: string[]
}

/**
 * Writes engram's JSON Lines export of `adapter` to `file` from one snapshot: on Postgres a
 * `REPEATABLE READ, READ ONLY, DEFERRABLE` transaction, so every table is read as of one moment
 * while writers carry on; on SQLite one transaction, which other writers of the file wait for.
 */
export async function exportLogical(
  adapter: StorageAdapter,
  file: string,
  tables: readonly string[] | null,
): Promise<void> {
  await adapter.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      await tx.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY, DEFERRABLE')
    }
    const lines = exportDatabase(tx, tables === null ? {} : { tables })
    await pipeline(Readable.from(lines), createWriteStream(file))
  })
}

/** Restores a verified `engram-jsonl` content file into an open adapter (see `restoreTables`). */
export async function importLogical(
  file: string,
  target: StorageAdapter,
  options: { replace: boolean; manifest: BackupManifest },
): Promise<LogicalRestore> {
  const header = await readHeader(file, options.manifest.id)
  const names = header.tables.map((t) => t.name)
  return restoreTables(target, header.dialect, names, () => createReadStream(file), options.replace)
}

/**
 * Restores the tables of a verified SQLite image into an open adapter of any dialect: the image
 * is opened with a SQLite driver and its rows move through engram's export format. Virtual
 * tables and the vector engine's tables are not rows to move, and are reported in `notes`.
 */
export async function importImageRows(
  file: string,
  target: StorageAdapter,
  options: { replace: boolean; manifest: BackupManifest },
): Promise<LogicalRestore> {
  const image = await createDatabase({ filename: file })
  try {
    const schema = await readSchema(image)
    const names = schema.tables.map((t) => t.name)
    const restored = await restoreTables(
      target,
      'sqlite',
      names,
      () => exportDatabase(image, { tables: names }),
      options.replace,
    )
    const notes = [...restored.notes]
    if (schema.virtualTables.length > 0) {
      notes.push(
        `Virtual tables (${schema.virtualTables.join(', ')}) were not restored: restore the backup to a file path to keep them`,
      )
    }
    if (schema.hasVectorEngine) {
      notes.push(
        "The backup's vector collections were not restored as rows: restore it to a file path, or move them store to store with @engram/migrate",
      )
    }
    return { rows: restored.rows, notes }
  } finally {
    await image.close()
  }
}

/**
 * Restores a verified `engram-jsonl` content file as a new SQLite file at `path`: the tables
 * are imported into a file beside it, which replaces `path` only once complete.
 */
export async function restoreLogicalToFile(
  file: string,
  target: string,
  manifest: BackupManifest,
): Promise<LogicalRestore> {
  const path = resolve(target)
  await refuseOpenFile(path)
  const temp = partialPath(path)
  let rows = 0
  let notes: string[] = []
  try {
    const db = await createDatabase({ filename: temp })
    try {
      const result = await importDatabase(db, createReadStream(file))
      rows = result.rows
      notes = result.notes
      await db.exec(`DROP TABLE IF EXISTS ${quoteName(CHECKPOINT_TABLE)}`)
    } finally {
      await db.close()
    }
    await syncFile(temp)
    await rename(temp, path)
  } catch (error) {
    await Promise.all(
      ['', '-wal', '-shm'].map((suffix) => rm(`${temp}${suffix}`, { force: true }).catch(() => undefined)),
    )
    if (error instanceof StorageError) throw withBackup(error, manifest.id)
    throw error
  }
  await syncFolder(dirname(path))
  await rm(`${path}-wal`, { force: true }).catch(() => undefined)
  await rm(`${path}-shm`, { force: true }).catch(() => undefined)
  return { rows, notes }
}

/**
 * Writes tables into `target` in one transaction, so other callers see the old tables or the
 * restored ones and a failure leaves the old ones: tables of the same names are refused unless
 * `replace`, which drops them (referencing tables first) inside that transaction.
 */
async function restoreTables(
  target: StorageAdapter,
  from: SqlDialect,
  names: readonly string[],
  source: () => ChunkSource,
  replace: boolean,
): Promise<LogicalRestore> {
  const hadCheckpoints = await tableExists(target, CHECKPOINT_TABLE)
  if (!hadCheckpoints && target.dialect === 'postgres') await createCheckpointTable(target)
  try {
    return await target.transaction(async (tx) => {
      const existing: string[] = []
      for (const name of names) {
        const local = from === 'sqlite' && tx.dialect === 'postgres' ? name.toLowerCase() : name
        if (await tableExists(tx, local)) existing.push(local)
      }
      if (existing.length > 0 && !replace) throw holdsData(tx.kind, existing)
      // The export lists parents before the tables that reference them, so children go first.
      for (const name of existing.reverse()) await tx.exec(`DROP TABLE ${quoteName(name)}`)
      const result = await importDatabase(tx, source())
      if (hadCheckpoints) {
        await tx.run(`DELETE FROM ${quoteName(CHECKPOINT_TABLE)} WHERE job = ?`, [
          `import:${result.exportId}`,
        ])
      } else {
        await tx.exec(`DROP TABLE IF EXISTS ${quoteName(CHECKPOINT_TABLE)}`)
      }
      return { rows: result.rows, notes: result.notes }
    })
  } catch (error) {
    if (!hadCheckpoints && target.dialect === 'postgres') {
      await target.exec(`DROP TABLE IF EXISTS ${quoteName(CHECKPOINT_TABLE)}`).catch(() => undefined)
    }
    throw error
  }
}

/**
 * Has @engram/migrate create its checkpoint table, outside any transaction: inside one, its
 * probe for a missing table would abort a Postgres transaction. An empty export does just that.
 */
async function createCheckpointTable(target: StorageAdapter): Promise<void> {
  const empty: ExportHeader = {
    format: 'engram-export',
    version: 1,
    exportId: `engram-backup-setup-${Date.now()}`,
    dialect: target.dialect,
    createdAt: new Date().toISOString(),
    tables: [],
    rowCounts: {},
  }
  await importDatabase(target, [
    `${JSON.stringify(empty)}\n`,
    `${JSON.stringify({ complete: true, tables: 0, rows: 0 })}\n`,
  ])
}

async function tableExists(db: StorageAdapter, name: string): Promise<boolean> {
  if (db.dialect === 'postgres') {
    const row = await db.get<{ found: string | null }>('SELECT to_regclass(?)::text AS found', [
      quoteName(name),
    ])
    return row?.found !== null && row?.found !== undefined
  }
  const row = await db.get(
    "SELECT 1 AS found FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
    [name],
  )
  return row !== undefined
}

/** The header line of an export file. */
async function readHeader(file: string, id: string): Promise<ExportHeader> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 })
  let text = ''
  try {
    for await (const chunk of stream) {
      text += chunk as string
      const end = text.indexOf('\n')
      if (end !== -1) return JSON.parse(text.slice(0, end)) as ExportHeader
    }
  } catch (error) {
    throw new StorageError('INVALID_ARGUMENT', `Backup ${id} does not start with an engram export header`, {
      cause: error,
    })
  } finally {
    stream.destroy()
  }
  throw new StorageError('INVALID_ARGUMENT', `Backup ${id} does not start with an engram export header`)
}

function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function withBackup(error: StorageError, id: string): StorageError {
  return new StorageError(error.code, `Restoring backup ${id} failed: ${error.message}`, { cause: error })
}
