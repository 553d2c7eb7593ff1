import { type ChildProcess, spawn } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createGunzip, createGzip } from 'node:zlib'
import type { StorageAdapter } from '@engram/core'
import { ConversationMemory } from '@engram/memory'
import { createSqliteNativeAdapter } from '@engram/sqlite-native'
import * as framers from '@framers/sql-storage-adapter'
import Database from 'better-sqlite3'
import { MemorySampler, type Stats, summarise } from './measure.js'
import { plannedTurns } from './memory-workload.js'
import { describeError, formatMb, printResultTable, type ResultRow, type Role } from './result-table.js'
import type { SuiteOptions } from './suite-options.js'

/** The part of @engram/backup this suite uses (it is loaded at run time, see `loadBackup`). */
interface BackupInfo {
  key: string
  size: number
}
interface Manager {
  runNow(): Promise<BackupInfo>
  restore(key: string, options: { into: string }): Promise<unknown>
}
interface Destination {
  close?(): Promise<void>
}
interface BackupModule {
  createBackupManager(
    db: StorageAdapter,
    destination: Destination,
    options: { compression: 'gzip' | 'none'; maxBackups: number; retries: number },
  ): Manager
  folderDestination(path: string): Destination
  s3Destination(config: {
    bucket: string
    prefix: string
    endpoint: string
    credentials: { accessKeyId: string; secretAccessKey: string }
  }): Destination
}

/** The part of @framers/sql-storage-adapter's cloud backup this suite uses, from its dist/features/backup. */
interface FramersBackups {
  backupNow(): Promise<string>
  restore(key: string): Promise<void>
}
const framersApi = framers as unknown as {
  createDatabase(options: Record<string, unknown>): Promise<{ close(): Promise<void> }>
  createCloudBackupManager(
    db: unknown,
    s3: unknown,
    bucket: string,
    config: Record<string, unknown>,
  ): FramersBackups
}

const root = fileURLToPath(new URL('../../../', import.meta.url))
// s3rver and the S3 SDK are @engram/backup's (dev) dependencies; this app borrows them from there.
const fromBackup = createRequire(join(root, 'packages', 'backup', 'package.json'))
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
const BUCKET = 'bench-backups'

/** @engram/backup by name when this app depends on it, else from the workspace's build. */
async function loadBackup(): Promise<BackupModule> {
  try {
    return (await import('@engram/backup' as string)) as BackupModule
  } catch {
    return (await import(
      pathToFileURL(join(root, 'packages', 'backup', 'dist', 'index.js')).href
    )) as BackupModule
  }
}

/** One way of taking and restoring backups, measured over `rounds`. */
interface Contender {
  system: string
  role: Role
  rounds: number
  /** Takes one backup; returns what to restore and the bytes stored. */
  backup(): Promise<{ restore: (into: string) => Promise<void>; bytes: number }>
  close(): Promise<void>
}

/**
 * Backup and restore of a conversation database: `sizes` conversations × turns stored through
 * @engram/memory's ConversationMemory on @engram/sqlite-native, backed up with @engram/backup to
 * a folder and to s3rver (a real S3-protocol server, in a child process), gzip and uncompressed,
 * each restored to a new file and checked. Beside it: the floor (better-sqlite3's VACUUM INTO and
 * zlib, with no checksum or manifest) and @framers/sql-storage-adapter's createCloudBackupManager.
 */
export async function backupSuite(options: SuiteOptions): Promise<void> {
  const sizes = options.smoke ? { conversations: 100, turns: 10 } : { conversations: 10_000, turns: 50 }
  const rounds = options.smoke ? 1 : 3
  const folder = mkdtempSync(join(tmpdir(), 'engram-bench-backup-'))
  const s3 = await startS3rver(join(folder, 's3rver'))
  try {
    const source = join(folder, 'conversations.db')
    const started = performance.now()
    const turns = await buildDatabase(source, sizes.conversations, sizes.turns)
    const fileBytes = statSync(source).size
    console.log(
      `\n## backup: ${sizes.conversations.toLocaleString('en-US')} conversations × ${sizes.turns} turns (${turns.toLocaleString('en-US')} turns, ${formatMb(fileBytes)} SQLite file, built in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    )
    const backup = await loadBackup()
    const db = createSqliteNativeAdapter({ filename: source })
    const contenders: Contender[] = [rawContender(source, folder, rounds)]
    for (const compression of ['gzip', 'none'] as const) {
      contenders.push(
        engramContender(backup, db, `engram → folder, ${compression}`, compression, rounds, () =>
          backup.folderDestination(join(folder, `backups-${compression}`)),
        ),
        engramContender(backup, db, `engram → s3rver, ${compression}`, compression, rounds, () =>
          backup.s3Destination({
            bucket: BUCKET,
            prefix: compression,
            endpoint: s3.endpoint,
            credentials: S3RVER_CREDENTIALS,
          }),
        ),
      )
    }
    contenders.push(framersContender(source, folder, s3.endpoint))
    const results = []
    for (const contender of contenders) results.push(await measure(contender, folder, turns))
    await db.close()
    const notes = [
      `Targets on this machine: backup under 3 s, restore under 5 s at 10,000 × 50. The seeds claim 5–10 s and 10–20 s for 10k conversations.`,
      'engram: a consistent snapshot (VACUUM INTO), gzip level 1 or none, sha256 of the content and of the stored bytes, a manifest written last; restore downloads, checks length and both sha256s, writes beside the target, fsyncs and renames. Every restore was opened and its turns counted.',
      's3rver writes each object to its own disk folder, so S3 figures include a second copy on the same disk.',
    ]
    printResultTable({
      suite: 'backup',
      title: `Backup of ${sizes.conversations.toLocaleString('en-US')} conversations × ${sizes.turns} turns (${formatMb(fileBytes)} SQLite file)`,
      unit: 'backups',
      rows: results.map((r) => r.backup),
      extraColumns: ['stored'],
      notes,
    })
    printResultTable({
      suite: 'backup',
      title: 'Restore of that backup to a new file (verified, then swapped in)',
      unit: 'restores',
      rows: results.map((r) => r.restore),
      notes: [
        "@framers/sql-storage-adapter's restore reads the gzip object as UTF-8 text before gunzipping it.",
      ],
    })
  } finally {
    await s3.stop()
    rmSync(folder, { recursive: true, force: true })
  }
}

/** Stores the conversations with ConversationMemory, 5,000 turns per transaction; returns the turns stored. */
async function buildDatabase(path: string, conversations: number, turnsEach: number): Promise<number> {
  const db = createSqliteNativeAdapter({ filename: path })
  await new ConversationMemory(db).initialize()
  let batch: ReturnType<typeof plannedTurns> extends Generator<infer T> ? T[] : never = []
  let stored = 0
  const flush = async () => {
    const turns = batch
    batch = []
    await db.transaction(async (tx) => {
      const memory = new ConversationMemory(tx)
      for (const p of turns) await memory.storeConversationTurn(p.userId, p.conversationId, p.turn)
    })
    stored += turns.length
  }
  for (const planned of plannedTurns(conversations, turnsEach, Math.min(1000, conversations))) {
    batch.push(planned)
    if (batch.length === 5000) await flush()
  }
  await flush()
  await db.close()
  return stored
}

async function measure(
  contender: Contender,
  folder: string,
  turns: number,
): Promise<{ backup: ResultRow; restore: ResultRow }> {
  const { system, role } = contender
  const backupTimes: number[] = []
  const restoreTimes: number[] = []
  const backupMemory = new MemorySampler()
  let restoreMemory: MemorySampler | undefined
  let bytes = 0
  let restoreError: string | undefined
  try {
    for (let round = 0; round < contender.rounds; round++) {
      const sampling = setInterval(() => backupMemory.sample(), 20)
      let t0 = performance.now()
      const taken = await contender.backup().finally(() => clearInterval(sampling))
      backupTimes.push(performance.now() - t0)
      bytes = taken.bytes
      if (restoreError !== undefined) continue
      const into = join(folder, `restored-${round}.db`)
      restoreMemory ??= new MemorySampler()
      const watching = setInterval(() => restoreMemory?.sample(), 20)
      t0 = performance.now()
      try {
        await taken.restore(into)
        restoreTimes.push(performance.now() - t0)
        const restored = new Database(into, { readonly: true })
        const count = (
          restored.prepare('SELECT count(*) AS n FROM engram_conversation_turns').get() as { n: number }
        ).n
        restored.close()
        if (count !== turns) throw new Error(`the restored file has ${count} turns, the source ${turns}`)
      } catch (error) {
        restoreError = describeError(error)
      } finally {
        clearInterval(watching)
        rmSync(into, { force: true })
      }
    }
  } catch (error) {
    await contender.close()
    return {
      backup: { system, role, error: describeError(error) },
      restore: { system, role, error: 'no backup to restore' },
    }
  }
  await contender.close()
  const stats = (times: number[], sampler: MemorySampler): Stats =>
    summarise(times, sum(times), 1, sampler.peaks())
  return {
    backup: { system, role, stats: stats(backupTimes, backupMemory), extra: { stored: formatMb(bytes) } },
    restore:
      restoreError !== undefined || restoreMemory === undefined
        ? { system, role, error: restoreError ?? 'not run' }
        : { system, role, stats: stats(restoreTimes, restoreMemory) },
  }
}

const sum = (values: readonly number[]) => values.reduce((total, x) => total + x, 0)

function engramContender(
  backup: BackupModule,
  db: StorageAdapter,
  system: string,
  compression: 'gzip' | 'none',
  rounds: number,
  open: () => Destination,
): Contender {
  const destination = open()
  const manager = backup.createBackupManager(db, destination, { compression, maxBackups: 2, retries: 0 })
  return {
    system,
    role: 'engram',
    rounds,
    async backup() {
      const taken = await manager.runNow()
      return {
        bytes: taken.size,
        restore: async (into) => {
          await manager.restore(taken.key, { into })
        },
      }
    },
    close: async () => destination.close?.(),
  }
}

/** The floor: VACUUM INTO with better-sqlite3 and a gzip stream to a file, nothing checked or recorded. */
function rawContender(source: string, folder: string, rounds: number): Contender {
  return {
    system: 'raw better-sqlite3 VACUUM INTO + zlib gzip to a file (no checksum, no manifest)',
    role: 'raw',
    rounds,
    async backup() {
      const snapshot = join(folder, 'raw-snapshot.db')
      const stored = join(folder, 'raw-backup.db.gz')
      rmSync(snapshot, { force: true })
      const db = new Database(source, { readonly: true })
      db.exec(`VACUUM INTO '${snapshot.replaceAll("'", "''")}'`)
      db.close()
      await pipeline(createReadStream(snapshot), createGzip({ level: 1 }), createWriteStream(stored))
      rmSync(snapshot)
      return {
        bytes: statSync(stored).size,
        restore: (into) => pipeline(createReadStream(stored), createGunzip(), createWriteStream(into)),
      }
    },
    close: async () => undefined,
  }
}

/** @framers/sql-storage-adapter's createCloudBackupManager on its better-sqlite3 adapter, to s3rver, gzip (one round: it takes minutes at full size). */
function framersContender(source: string, folder: string, endpoint: string): Contender {
  const { S3Client, HeadObjectCommand } = fromBackup('@aws-sdk/client-s3') as {
    S3Client: new (
      config: object,
    ) => { send(command: unknown): Promise<{ ContentLength?: number }>; destroy(): void }
    HeadObjectCommand: new (input: { Bucket: string; Key: string }) => unknown
  }
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  })
  const opened: Array<{ close(): Promise<void> }> = []
  return {
    system: '@framers/sql-storage-adapter 0.6.8 createCloudBackupManager → s3rver, gzip (JSON)',
    role: 'alternative',
    rounds: 1,
    async backup() {
      const db = await framersApi.createDatabase({ file: source, priority: ['better-sqlite3'] })
      opened.push(db)
      const config = {
        interval: 3_600_000,
        maxBackups: 2,
        options: { compression: 'gzip', format: 'json', prefix: 'framers/' },
      }
      const key = await framersApi.createCloudBackupManager(db, client, BUCKET, config).backupNow()
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))
      return {
        bytes: head.ContentLength ?? 0,
        restore: async (into) => {
          const target = await framersApi.createDatabase({ file: into, priority: ['better-sqlite3'] })
          opened.push(target)
          await framersApi.createCloudBackupManager(target, client, BUCKET, config).restore(key)
        },
      }
    },
    async close() {
      for (const db of opened.splice(0)) await db.close().catch(() => undefined)
      client.destroy()
      rmSync(join(folder, 'framers'), { recursive: true, force: true })
    },
  }
}

/** s3rver in a child process with OpenSSL's legacy provider, which its listing tokens (DES) need. */
async function startS3rver(directory: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const script = `const S3rver = require(process.argv[1]);
new S3rver({ address: '127.0.0.1', port: 0, directory: process.argv[2], silent: true, configureBuckets: [{ name: '${BUCKET}' }] })
  .run().then((a) => process.stdout.write(JSON.stringify({ port: a.port }) + '\\n'));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', script, fromBackup.resolve('s3rver'), directory],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0] as string) as { port: number }).port)
    })
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)))
  })
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.stdin?.end()
      await exited
    },
  }
}
